//! The order domain: orders, inventory and payments as aggregates, an
//! order-summary read model, and a fulfilment saga that reserves inventory,
//! takes payment and approves the order, compensating when payment fails.

pub mod inventory;
pub mod order;
pub mod payment;
pub mod saga;
pub mod summary;
