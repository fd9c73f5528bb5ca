//! `unexplained`: what the measured steps leave, reference − baseline − Σ steps. It is the
//! bridge's residual, not measured on evidence of its own; `simulate` plants a truly
//! unexplained part to check the residual is exactly that.

use super::{Amount, Plant};

pub const NAME: &str = "unexplained";

pub const NOTE: &str = "what the measured steps leave: reference − baseline − Σ steps";

pub static PLANT: Plant = Plant {
    amount: "share of messages with an extra app-key call seen only on the bill",
    kind: Amount::Share,
    default: [0.005, 0.005],
    only: None,
};
