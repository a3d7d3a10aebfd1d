//! `ferrocap check`: compile an expression and show what it became.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use ferrocap_dataplane::expr::ast::{CondKind, IfValue};
use ferrocap_dataplane::expr::{self, Directory, InterfaceKind};

/// Arguments of `ferrocap check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Config file whose interfaces, routes, IP groups and users names resolve against.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The expression, e.g. 'if = "Internet" & (port = 137-139 | port = 445)'.
    #[arg(value_name = "EXPR")]
    expression: String,
}

/// Runs `ferrocap check`.
pub(crate) fn run(args: &CheckArgs) -> ExitCode {
    let loaded = match crate::load_config(args.config.as_ref()) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let standalone;
    let directory = match &loaded {
        Some(l) => &l.directory,
        None => {
            standalone = interfaces_named_in(&args.expression);
            &standalone
        }
    };
    match expr::compile(&args.expression, directory) {
        Ok(compiled) => {
            println!("expression: {}", compiled.normalized);
            println!("plan:");
            for line in compiled.matcher.to_string().lines() {
                println!("  {line}");
            }
            // A warning reads `Line N, char M: warning: …` on its own.
            for w in &compiled.warnings {
                println!("{w}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

/// Without a config, every interface name the expression uses is taken as an
/// Ethernet interface, so `check` can judge an expression on its own. VPN
/// names (`vpn:"X"`) still need a config that says X is a VPN.
fn interfaces_named_in(expression: &str) -> Directory {
    let mut builder = Directory::builder();
    if let Ok(ast) = expr::parse(expression) {
        let mut names = Vec::new();
        ast.for_each_condition(&mut |c| {
            if let CondKind::Iface {
                value: IfValue::Name(n),
                ..
            } = &c.kind
            {
                names.push(n.clone());
            }
        });
        names.sort();
        names.dedup();
        for n in names {
            builder = builder.interface(&n, InterfaceKind::Ethernet);
        }
    }
    builder.build().unwrap_or_default()
}
