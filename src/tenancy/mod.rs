//! Tenancy: accounts and everything that links or shapes them.
//!
//! Each account owns its subject space; nothing crosses between accounts
//! except through an explicit export and import.
//!
//! - [`account`]: one account (its subscription index, forward table,
//!   limits, claims lock) and the registry of all accounts.
//! - [`imports`]: exports, and the forwards that carry messages across
//!   accounts (stream imports, service imports, responses).
//! - [`latency`]: service latency tracking (sampling, one measurement).
//! - [`account_config`]: accounts, exports and imports from the config file,
//!   and [`account_config::ImportPlan`], which installs imports in one step.
//! - [`operator`], [`jwt_account`]: operator mode; account claims applied
//!   to the live account, one update at a time, never older over newer; the
//!   JWT half of the login pipeline.
//! - [`mapping`], [`mapping_config`], [`transform`]: subject mappings.

pub mod account;
pub mod account_config;
pub mod imports;
pub mod interest;
pub mod jwt_account;
pub mod latency;
pub mod mapping;
pub mod mapping_config;
pub mod operator;
pub mod transform;
