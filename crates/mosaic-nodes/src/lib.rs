//! Agent nodes.
