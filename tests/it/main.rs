//! Integration tests: the real application on a real SQLite file and a real
//! Postgres database, driven over real sockets.

mod common;
