//! HTTP/1.1 on one connection: the read buffer, the head parser, the body
//! decoder, the response writer, and the keep-alive loop that ties them.

pub(crate) mod body;
pub(crate) mod buf;
pub(crate) mod conn;
pub(crate) mod date;
pub(crate) mod head;
pub(crate) mod write;
