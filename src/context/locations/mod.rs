//! One parser per output format; each turns tool output into `Location`s in its own rank order.

pub(crate) mod gcc;
pub(crate) mod generic;
pub(crate) mod go;
pub(crate) mod java;
pub(crate) mod node;
pub(crate) mod pytest;
pub(crate) mod python;
pub(crate) mod rust;
pub(crate) mod tsc;
