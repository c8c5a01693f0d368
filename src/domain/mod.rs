//! Pure domain rules: no I/O, no database, no gRPC. Each module is unit-tested on its own.

pub mod assessment;
pub mod curve;
pub mod export;
pub mod followup;
pub mod nip;
pub mod org;
pub mod period;
pub mod rating;
pub mod report;
pub mod skp;
pub mod text;
