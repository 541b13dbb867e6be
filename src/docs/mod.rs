//! Design docs and reviews (DESIGN §3.2).
pub mod model;
pub mod ops;
pub mod store;
