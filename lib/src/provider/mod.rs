//! The outside processing service, as `docs/provider-protocol.md` defines it: the wire types
//! (`protocol`), the callback signature both sides compute (`signature`), docflow's client
//! for submissions and status (`client`) and deletion (`deletion`), each provider's slots and circuit breaker
//! (`breaker`, see `design.md`), and the reference provider `docflow provider-sim` runs
//! (`sim`).

pub mod breaker;
pub mod client;
pub mod deletion;
pub mod protocol;
pub mod signature;
/// The provider simulator (`docflow provider-sim`): the `dev` feature.
#[cfg(feature = "dev")]
pub mod sim;
