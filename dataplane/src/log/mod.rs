//! The Kernun logging facility (stub: being implemented).
