//! llm-recon: reconcile LLM token usage and spend across the app (Dify), the trace store
//! (Langfuse) and the provider's bill.
//!
//! Pipeline: read (sniff → adapter) → normalize (`record::UsageRecord`) → price → align →
//! reconcile (bridge) → render.

pub mod catalog;
pub mod chargeback;
pub mod cli;
pub mod normalized;
pub mod output;
pub mod panic_guard;
pub mod pricing;
pub mod progress;
pub mod pull;
pub mod reconcile;
pub mod record;
pub mod report;
pub mod simulate;
pub mod source;
pub mod tokenize;
