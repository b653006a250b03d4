//! SeaORM entities: one module per table. The same definitions serve PostgreSQL and
//! SQLite, so columns use portable types only: ids and states are strings, timestamps
//! `DateTimeUtc`, counters `i64`/`i32`, structured values `Json` (jsonb on PostgreSQL).

pub mod artifacts;
pub mod document_events;
pub mod documents;
pub mod processed_events;
pub mod submissions;
