//! The HTTP/1.1 messages the proxy reads from the functions and from DynamoDB: whole, with
//! their bytes kept exactly as they came, so a forwarded call is the call that was made.

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpStream;

/// One HTTP/1.1 message as read: its bytes exactly (forwarded as they are), its headers
/// (names lowercased) and its body (chunked framing removed).
pub(super) struct Message {
    pub(super) raw: Vec<u8>,
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
    /// The sender closes the connection after this message.
    pub(super) close: bool,
}

impl Message {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// Reads one message; `Ok(None)` when the connection ended before its first byte.
pub(super) async fn read_message<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    response: bool,
) -> io::Result<Option<Message>> {
    const MAX_HEAD: usize = 64 * 1024;
    let mut raw = Vec::new();
    if reader.read_until(b'\n', &mut raw).await? == 0 {
        return Ok(None);
    }
    let start_line = String::from_utf8_lossy(&raw).trim_end().to_owned();
    let mut headers = Vec::new();
    loop {
        let from = raw.len();
        if reader.read_until(b'\n', &mut raw).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let line = std::str::from_utf8(&raw[from..])
            .map_err(|_| invalid("header is not UTF-8"))?
            .trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid("header without a colon"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        if raw.len() > MAX_HEAD {
            return Err(invalid("head too large"));
        }
    }
    let status = if response {
        start_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid("status line"))?
    } else {
        0
    };
    let mut message = Message {
        raw,
        status,
        headers,
        body: Vec::new(),
        close: false,
    };
    let chunked = message
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = message
        .header("content-length")
        .map(|v| v.parse::<usize>().map_err(|_| invalid("content-length")))
        .transpose()?;
    if chunked {
        loop {
            let from = message.raw.len();
            if reader.read_until(b'\n', &mut message.raw).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let line = String::from_utf8_lossy(&message.raw[from..]).to_string();
            let size_text = line.trim().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size_text, 16).map_err(|_| invalid("chunk size"))?;
            if size == 0 {
                // trailers, then the empty line
                loop {
                    let from = message.raw.len();
                    if reader.read_until(b'\n', &mut message.raw).await? == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    if message.raw[from..]
                        .iter()
                        .all(|b| *b == b'\r' || *b == b'\n')
                    {
                        break;
                    }
                }
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).await?;
            message.body.extend_from_slice(&chunk[..size]);
            message.raw.extend_from_slice(&chunk);
        }
    } else if let Some(length) = length {
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await?;
        message.raw.extend_from_slice(&body);
        message.body = body;
    } else if response && !matches!(status, 100..=199 | 204 | 304) {
        reader.read_to_end(&mut message.body).await?;
        message.raw.extend_from_slice(&message.body);
        message.close = true;
    }
    if message
        .header("connection")
        .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    {
        message.close = true;
    }
    Ok(Some(message))
}

/// Ends a connection with a TCP reset instead of an answer.
pub(super) fn reset(stream: BufReader<TcpStream>) {
    let stream = stream.into_inner();
    let _ = stream.set_zero_linger();
    drop(stream);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_with_length_and_chunks_are_read_whole() {
        let text = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        let mut reader = BufReader::new(&text[..]);
        let first = read_message(&mut reader, true).await.unwrap().unwrap();
        assert_eq!(first.body, b"{}");
        let second = read_message(&mut reader, true).await.unwrap().unwrap();
        assert_eq!(second.body, b"{}");
        assert_eq!(second.raw.len(), text.len() - first.raw.len());
        assert!(read_message(&mut reader, true).await.unwrap().is_none());
    }
}
