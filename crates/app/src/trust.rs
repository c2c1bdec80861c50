//! A store's trust score, from the figures the store keeps (see the formula in
//! `souk_domain::trust`).

use crate::error::{Error, Result};
use crate::App;
use serde::Serialize;
use souk_domain::trust::{Component, TrustInputs};

#[derive(Serialize, utoipa::ToSchema)]
pub struct Trust {
    pub store_id: String,
    /// 0 to 100; a new seller starts at 50.
    pub score: f64,
    pub components: Vec<Component>,
    pub inputs: TrustInputs,
}

/// What the trust score of the store's inputs is.
pub async fn trust_of(app: &App, store_id: &str) -> Result<Trust> {
    let inputs = app
        .store
        .trust_inputs(&[store_id.to_string()])
        .await?
        .remove(store_id)
        .ok_or_else(|| Error::not_found("store"))?;
    let s = souk_domain::trust::score(&inputs, &app.config.trust);
    Ok(Trust { store_id: store_id.to_string(), score: s.score, components: s.components, inputs })
}
