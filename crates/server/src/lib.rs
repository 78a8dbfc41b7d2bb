//! The schloss server: configuration, listeners, TLS and SASL, and the per-connection state
//! machine that turns bytes from a socket into broker requests. The `schloss` binary
//! (`main.rs`) is a thin command line over this library; the fuzz targets drive
//! [`connection::serve`] from a byte buffer.

pub mod auth_exchange;
pub mod authorization;
pub mod certs;
pub mod config;
pub mod conn_rate;
pub mod conn_state;
pub mod connection;
pub mod credentials;
pub mod fd_budget;
pub mod frames;
pub mod limits;
pub mod listener;
pub mod lru;
pub mod sasl;
pub mod serve;
pub mod tls;
pub mod verifier;
