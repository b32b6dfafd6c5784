//! Sinks take finished chunk buffers, in order, and put them somewhere: files here, a
//! PostgreSQL COPY in `db`. A sink never sees rows, only bytes.

pub mod file;

use crate::error::Result;

pub trait Sink {
    /// Take one chunk's bytes holding `rows` rows.
    fn write(&mut self, bytes: &[u8], rows: u64) -> Result<()>;
    /// Flush and seal the output.
    fn finish(&mut self) -> Result<()>;
}
