//! `hitl policy ...`: add, list, remove, move.

use std::path::Path;

use super::admin::{change, open, print_json, print_table};
use crate::cli::PolicyCommand;
use crate::clock;
use crate::domain::policies::{self, NewPolicy, Policy};
use crate::domain::Actor;

pub fn policy(cmd: PolicyCommand, dir: &Path) -> Result<(), String> {
    let mut conn = open(dir)?;
    match cmd {
        PolicyCommand::Add(args) => {
            let json = args.json;
            let new = NewPolicy {
                name: args.name,
                tags: args.tags,
                key: args.key,
                action: args.action,
                risk: args.risk,
                reviewers: args.reviewers,
                approvals: args.approvals,
                remind_every: args.remind_every,
                escalate_after: args.escalate_after,
                escalate_to: args.escalate_to,
                on_timeout: args.on_timeout,
            };
            let policy = change(&mut conn, dir, |tx| {
                policies::add(tx, clock::now(), &Actor::Cli, new)
            })?;
            if json {
                print_json(&policy);
            } else {
                say!(
                    "added the policy {} (number {} in order): {} -> {}",
                    policy.name,
                    policy.position,
                    policy.describe_conditions(),
                    policy.describe_outcome()
                );
            }
        }
        PolicyCommand::List { json } => {
            let list = policies::list(&conn).map_err(|e| e.to_string())?;
            if json {
                print_json(&list);
            } else if list.is_empty() {
                eprintln!(
                    "No policies: any approver decides any pause. Add one with: hitl policy add NAME --reviewers GROUP"
                );
            } else {
                let rows: Vec<Vec<String>> = list.iter().map(row).collect();
                print_table(&["#", "POLICY", "MATCHES", "ROUTES TO"], &rows);
            }
        }
        PolicyCommand::Remove { name } => {
            change(&mut conn, dir, |tx| {
                policies::remove(tx, clock::now(), &Actor::Cli, &name)
            })?;
            say!("removed the policy {name}");
        }
        PolicyCommand::Move { name, before } => {
            let list = change(&mut conn, dir, |tx| {
                policies::move_before(tx, clock::now(), &Actor::Cli, &name, &before)
            })?;
            let order: Vec<&str> = list.iter().map(|p| p.name.as_str()).collect();
            say!(
                "moved {name} before {before}; policies are tried in this order: {}",
                order.join(", ")
            );
        }
    }
    Ok(())
}

fn row(p: &Policy) -> Vec<String> {
    vec![
        p.position.to_string(),
        p.name.clone(),
        p.describe_conditions(),
        p.describe_outcome(),
    ]
}
