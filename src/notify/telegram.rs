//! (being built)

use super::{Sent, Worker};
use crate::domain::outbox::Job;

pub(super) fn send(_worker: &Worker, _job: &Job, _agent: &ureq::Agent) -> Sent {
    Sent::Impossible("telegram is not built yet".into())
}
