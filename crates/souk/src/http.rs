//! A plain HTTP/1.1 client for the benchmarks: the load generator shares the machine with the
//! server, so it does no more than write a prepared request and read the answer.

/// `host:port` of an `http://` URL.
pub fn http_addr(url: &str) -> Result<String, String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("{url}: only http:// URLs are benchmarked"))?;
    let host = rest.split('/').next().unwrap_or_default();
    match host {
        "" => Err(format!("{url}: no host")),
        h if h.contains(':') => Ok(h.to_string()),
        h => Ok(format!("{h}:80")),
    }
}

/// One keep-alive HTTP/1.1 connection, a request at a time: the load generator shares the
/// machine with the server, so it does no more than write a prepared request and read the
/// answer's status and length.
pub struct Conn {
    stream: tokio::net::TcpStream,
    buf: Vec<u8>,
    /// Where the last answer's body lies in `buf`.
    body: std::ops::Range<usize>,
}

impl Conn {
    pub async fn open(addr: &str) -> std::io::Result<Conn> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn { stream, buf: Vec::with_capacity(4096), body: 0..0 })
    }

    /// The body of the last answer.
    pub fn body(&self) -> &[u8] {
        &self.buf[self.body.clone()]
    }

    /// Sends `request` and reads the whole answer; the connection unless the server is
    /// closing it, and the status.
    pub async fn send(mut self, request: &[u8]) -> std::io::Result<(Option<Conn>, u16)> {
        use tokio::io::AsyncWriteExt;
        self.stream.write_all(request).await?;
        self.buf.clear();
        loop {
            if let Some(head) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let (status, length, close) = parse_head(&self.buf[..head])?;
                while self.buf.len() < head + 4 + length {
                    self.read_more().await?;
                }
                self.body = head + 4..head + 4 + length;
                return Ok(((!close).then_some(self), status));
            }
            self.read_more().await?;
        }
    }

    async fn read_more(&mut self) -> std::io::Result<()> {
        use tokio::io::AsyncReadExt;
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }
}

/// The status, `content-length` and whether the server closes the connection, from a
/// response's head.
fn parse_head(head: &[u8]) -> std::io::Result<(u16, usize, bool)> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP/1.1 response");
    let text = std::str::from_utf8(head).map_err(|_| bad())?;
    let mut lines = text.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).ok_or_else(bad)?;
    let (mut length, mut close) = (None, false);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().ok();
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    Ok((status, length.ok_or_else(bad)?, close))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_head_gives_status_length_and_closing() {
        let head = b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\nContent-Length: 42";
        assert_eq!(parse_head(head).unwrap(), (201, 42, false));
        let closing = b"HTTP/1.1 409 Conflict\r\ncontent-length: 0\r\nConnection: close";
        assert_eq!(parse_head(closing).unwrap(), (409, 0, true));
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked").is_err(), "no length");
        assert!(parse_head(b"garbage").is_err());
        assert_eq!(http_addr("http://127.0.0.1:18080/").unwrap(), "127.0.0.1:18080");
        assert_eq!(http_addr("http://shop.example").unwrap(), "shop.example:80");
        assert!(http_addr("https://shop.example").is_err());
    }
}
