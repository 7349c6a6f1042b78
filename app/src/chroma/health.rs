//! The collection's health: coverage and records without a usable time, read only.

use super::{Chroma, ChromaError, ChromaReport, backfill};

/// Coverage and bad records, read only.
pub async fn health(chroma: &Chroma) -> Result<ChromaReport, ChromaError> {
    backfill(chroma, chroma.max_batch_size, true).await.map(|r| ChromaReport { filled: 0, ..r })
}
