//! `hitl group ...`: create, add, remove, list.

use std::path::Path;

use super::admin::{change, open, print_json, print_table, when};
use crate::cli::GroupCommand;
use crate::clock;
use crate::domain::{groups, Actor};

pub fn group(cmd: GroupCommand, dir: &Path) -> Result<(), String> {
    let mut conn = open(dir)?;
    match cmd {
        GroupCommand::Create { name } => {
            let name = change(&mut conn, dir, |tx| {
                groups::create(tx, clock::now(), &Actor::Cli, &name)
            })?;
            say!("created the group {name}");
        }
        GroupCommand::Add { name, emails } => {
            let added = change(&mut conn, dir, |tx| {
                groups::add(tx, clock::now(), &Actor::Cli, &name, &emails)
            })?;
            match added.len() {
                0 => say!("nothing to add: they are all in {name} already"),
                _ => say!("added to {name}: {}", added.join(", ")),
            }
        }
        GroupCommand::Remove { name, email } => {
            change(&mut conn, dir, |tx| {
                groups::remove(tx, clock::now(), &Actor::Cli, &name, &email)
            })?;
            say!("removed {email} from {name}");
        }
        GroupCommand::List { json } => {
            let list = groups::list(&conn).map_err(|e| e.to_string())?;
            if json {
                print_json(&list);
            } else if list.is_empty() {
                eprintln!("No groups yet. Create one with: hitl group create NAME");
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|g| {
                        vec![
                            g.name.clone(),
                            g.members.join(", "),
                            when(Some(g.created_at)),
                        ]
                    })
                    .collect();
                print_table(&["GROUP", "MEMBERS", "CREATED"], &rows);
            }
        }
    }
    Ok(())
}
