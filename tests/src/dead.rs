//! An endpoint that refuses every connection, for "the service is down" tests.
//!
//! Binding a port and closing it again is not enough: while the test runs, another test of the same
//! binary may be given that port for its own server, and the "dead" endpoint answers. A socket that is
//! bound but never listens keeps the port reserved, and the kernel refuses every connection to it.

use tokio::net::TcpSocket;

/// A loopback port nobody can listen on while this value lives.
pub struct DeadPort {
    _socket: TcpSocket,
    pub port: u16,
}

impl DeadPort {
    pub fn new() -> Self {
        let socket = TcpSocket::new_v4().expect("socket");
        socket
            .bind(([127, 0, 0, 1], 0).into())
            .expect("bind a loopback port");
        let port = socket.local_addr().expect("addr").port();
        DeadPort {
            _socket: socket,
            port,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Default for DeadPort {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connections_are_refused() {
        let dead = DeadPort::new();
        let err = tokio::net::TcpStream::connect(("127.0.0.1", dead.port))
            .await
            .expect_err("nothing listens");
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
        // And nobody else can take the port while it lives.
        assert!(std::net::TcpListener::bind(("127.0.0.1", dead.port)).is_err());
    }
}
