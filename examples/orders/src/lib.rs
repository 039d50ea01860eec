//! The order domain: orders, inventory and payments as aggregates, an
//! order-summary read model answering queries, and a fulfilment saga that
//! reserves inventory, takes payment and approves the order, compensating
//! when payment fails; served over HTTP by [`http`].

pub mod admin;
pub mod app;
pub mod http;
pub mod inventory;
pub mod metrics;
pub mod order;
pub mod payment;
pub mod queries;
pub mod saga;
pub mod summary;
