//! The one error type of the market server, and how each becomes an HTTP
//! answer: a status a client can act on and a JSON body that says why.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rustchain_tools_market::MarketError;
use serde_json::json;
use thiserror::Error;

/// Why a request to the market was refused or failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServerError {
    /// No API token, or one the market does not know.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The policy does not allow the action.
    #[error("`{account}` may not {action}: {}", reasons.join("; "))]
    Denied {
        /// The account.
        account: String,
        /// The action.
        action: String,
        /// Every reason the policy gave.
        reasons: Vec<String>,
    },
    /// A sold package's files, asked for by an account that has not bought
    /// it.
    #[error(
        "{package} is sold at {price} (minor units), once per account and major version, and \
         `{account}` has not bought it: {}",
        match buy {
            Some(version) => format!(
                "`rustchain-tools market buy {}@{version}` buys it",
                package.split('@').next().unwrap_or_default()
            ),
            None => "no version that would open it is for sale any more".to_owned(),
        }
    )]
    PaymentRequired {
        /// The account asking.
        account: String,
        /// `name@version`.
        package: String,
        /// Its purchase price, in minor units.
        price: u64,
        /// The version to buy to open it, if one is for sale.
        buy: Option<String>,
    },
    /// The request's body or path cannot be read.
    #[error("{0}")]
    BadRequest(String),
    /// The market refused the action or its store failed.
    #[error(transparent)]
    Market(#[from] MarketError),
    /// The policy could not be loaded.
    #[error("the market policy cannot be loaded: {0}")]
    Policy(#[from] rustchain_tools_policy::PolicyError),
    /// A web session could not be started.
    #[error("a web session could not be started: {0}")]
    Session(String),
    /// A form post did not come from the market's own pages.
    #[error("this form was not sent from the market's own pages")]
    CrossSite,
    /// A package's files could not be stored or read.
    #[error("the blob store could not {operation}: {reason}")]
    Blob {
        /// What it was doing.
        operation: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// The search index of the published packages could not be built.
    #[error("the search index could not be built: {0}")]
    Search(String),
}

impl ServerError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            ServerError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ServerError::Denied { .. } => StatusCode::FORBIDDEN,
            ServerError::PaymentRequired { .. } => StatusCode::PAYMENT_REQUIRED,
            ServerError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ServerError::CrossSite => StatusCode::FORBIDDEN,
            ServerError::Policy(_)
            | ServerError::Blob { .. }
            | ServerError::Session(_)
            | ServerError::Search(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ServerError::Market(e) => match e {
                MarketError::UnknownSubmission { .. }
                | MarketError::UnknownVersion { .. }
                | MarketError::UnknownPublisher { .. }
                | MarketError::UnknownFinding { .. } => StatusCode::NOT_FOUND,
                MarketError::ConflictOfInterest { .. }
                | MarketError::OwnPackage { .. }
                | MarketError::ReputationTooLow { .. } => StatusCode::FORBIDDEN,
                MarketError::NameTaken { .. }
                | MarketError::VersionExists { .. }
                | MarketError::KeyTaken { .. }
                | MarketError::AlreadyReviewed { .. }
                | MarketError::SubmissionClosed { .. }
                | MarketError::UsageWentBack { .. }
                | MarketError::FindingClosed { .. }
                | MarketError::NotForSale { .. }
                | MarketError::InsufficientFunds { .. } => StatusCode::CONFLICT,
                MarketError::Store { .. }
                | MarketError::Migrate { .. }
                | MarketError::Damaged { .. }
                | MarketError::Unbalanced { .. } => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            },
        }
    }
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self, "market request failed");
        }
        let mut body = json!({"error": self.to_string()});
        if let ServerError::Denied { reasons, .. } = &self {
            body["reasons"] = json!(reasons);
        }
        if let ServerError::PaymentRequired {
            package,
            price,
            buy,
            ..
        } = &self
        {
            body["price"] = json!(price);
            if let (Some(name), Some(version)) = (package.split('@').next(), buy) {
                body["purchase"] = json!(format!("/api/v1/packages/{name}/{version}/purchase"));
            }
        }
        (status, Json(body)).into_response()
    }
}
