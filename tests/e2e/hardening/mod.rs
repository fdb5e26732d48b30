//! The hostile review's findings (issue 12), each as a scenario that failed
//! before its fix: long-lived streams, back-pressure, object-level
//! authorisation, and the smaller holes.

mod backpressure;
mod objects;
mod streams;
