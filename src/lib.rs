pub mod rng;
pub mod civil;
pub mod error;
pub mod profile;
pub mod vocab;
