//! A server that says hello and drains on Ctrl-C.
//!
//! ```text
//! cargo run --example hello                 # 127.0.0.1:8080
//! cargo run --example hello -- --addr 127.0.0.1:9000
//! ```

use courteous::{Request, Response, Server};

fn main() {
    let mut addr = String::from("127.0.0.1:8080");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().unwrap_or_else(|| usage()),
            _ => usage(),
        }
    }
    if let Err(e) = run(&addr) {
        eprintln!("hello: {e}");
        std::process::exit(1);
    }
}

fn run(addr: &str) -> Result<(), courteous::Error> {
    let server = Server::builder()
        .on_listening(|addr| {
            println!("hello: listening on http://{addr} (Ctrl-C drains and exits)")
        })
        .bind(addr)?;
    let handle = server.handle();
    handle.close_on_signals(courteous::DEFAULT_SIGNALS)?;
    server.serve(|_req: &mut Request| Response::text("hello\n"))?;
    let stats = handle.stats();
    println!(
        "hello: drained after {} requests on {} connections",
        stats.served, stats.accepted
    );
    Ok(())
}

fn usage() -> ! {
    eprintln!("usage: hello [--addr HOST:PORT]");
    std::process::exit(2);
}
