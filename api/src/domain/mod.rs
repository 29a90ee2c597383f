//! Domain values that parse: what a valid email address or name is,
//! decided once, in plain Rust, for every way one reaches the server (the
//! HTTP API today; a batch, an invitation or a SCIM request later). Nothing
//! here knows of HTTP or storage; callers turn an error into their own
//! answer (a 422 naming the field).

pub mod email;
pub mod text;

pub use email::{Email, EmailError};
pub use text::TextError;
