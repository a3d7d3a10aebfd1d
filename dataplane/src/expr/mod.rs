//! The Kerio packet-logging expression language (stub: being implemented).
