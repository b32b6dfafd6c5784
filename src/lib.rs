//! finseed: deterministic synthetic data for the Financy platform.
pub mod civil;
pub mod cli;
pub mod commands;
pub mod encode;
pub mod error;
pub mod gen;
pub mod generate;
pub mod model;
pub mod pipeline;
pub mod profile;
pub mod progress;
pub mod rng;
pub mod schema;
pub mod sink;
pub mod vocab;
