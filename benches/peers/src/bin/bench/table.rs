//! Plain-text tables, number formats, and the list of targets.

use std::fmt;
use std::time::Duration;

/// Columns of text: the leading text columns left-aligned (one unless
/// told), the others right-aligned.
pub struct Table {
    title: String,
    left: usize,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(title: &str, header: &[&str]) -> Table {
        Table {
            title: title.into(),
            left: 1,
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Left-aligns the first `n` columns.
    pub fn left_aligned(mut self, n: usize) -> Table {
        self.left = n;
        self
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let all = || std::iter::once(&self.header).chain(&self.rows);
        let widths: Vec<usize> = (0..self.header.len())
            .map(|i| {
                all()
                    .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        writeln!(f, "\n## {}\n", self.title)?;
        for (n, row) in all().enumerate() {
            let mut line = String::new();
            for (i, w) in widths.iter().enumerate() {
                let cell = row.get(i).map_or("", String::as_str);
                let pad = w - cell.chars().count();
                if i > 0 {
                    line.push_str("  ");
                }
                if i < self.left {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad));
                } else {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                }
            }
            writeln!(f, "{}", line.trim_end())?;
            if n == 0 {
                let total = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
                writeln!(f, "{}", "-".repeat(total))?;
            }
        }
        Ok(())
    }
}

/// `94,512`
pub fn count(n: f64) -> String {
    let digits = format!("{:.0}", n.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `82 µs`, `1.43 ms`, `2.10 s`
pub fn dur(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 1e6 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

/// `1.52×`
pub fn ratio(r: f64) -> String {
    format!("{r:.2}×")
}

/// `4%`
pub fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

/// `9.0 MiB`
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// The targets, checked and listed at the end; never an exit status.
#[derive(Default)]
pub struct Targets {
    rows: Vec<[String; 3]>,
}

impl Targets {
    pub fn check(&mut self, goal: &str, measured: String, met: bool) {
        let verdict = if met { "met" } else { "MISSED" };
        self.rows.push([goal.into(), measured, verdict.into()]);
    }

    /// A figure the issue asks to see, with no threshold to meet.
    pub fn info(&mut self, what: &str, measured: String) {
        self.rows.push([what.into(), measured, "(shown)".into()]);
    }

    pub fn table(&self) -> Option<Table> {
        if self.rows.is_empty() {
            return None;
        }
        let mut t = Table::new(
            "targets (informational: a benchmark never fails on speed)",
            &["target", "measured", ""],
        );
        for r in &self.rows {
            t.row(r.to_vec());
        }
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(count(94512.4), "94,512");
        assert_eq!(count(512.0), "512");
        assert_eq!(count(1_000_000.0), "1,000,000");
        assert_eq!(dur(Duration::from_micros(82)), "82 µs");
        assert_eq!(dur(Duration::from_micros(1430)), "1.43 ms");
        assert_eq!(ratio(1.5), "1.50×");
        assert_eq!(mib(9216), "9.0 MiB");
    }

    #[test]
    fn aligns() {
        let mut t = Table::new("t", &["a", "bb"]);
        t.row(vec!["long".into(), "1".into()]);
        assert_eq!(t.to_string(), "\n## t\n\na     bb\n--------\nlong   1\n");
    }
}
