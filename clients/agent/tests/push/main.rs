//! The agent against the real organisation and task services (in this
//! process, over real gRPC), with the task service on SQLite and on
//! PostgreSQL: ordering, acknowledgements, parking and holding, retries
//! while the centre is unreachable, and the one-pusher rule.

mod support;

mod parking;
mod pushing;
