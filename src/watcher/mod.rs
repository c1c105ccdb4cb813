//! watcher (in progress)
