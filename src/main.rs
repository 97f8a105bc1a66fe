//! The `zeyos-odata` gateway binary.
//!
//! `zeyos-odata --demo` starts an embedded zeyos-sim with seeded data and
//! points the shipped `config.toml` at it; without `--demo` it serves the
//! ZeyOS instance configured in `config.toml` (or `--config FILE`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// The gateway allocates many small, short-lived values (rows, strings);
/// mimalloc serves them markedly faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use zeyos_odata::config::Config;
use zeyos_odata::server::gateway::Gateway;
use zeyos_odata::server::serve::serve;

/// OData 4.01 gateway in front of the ZeyOS REST API.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Configuration file (default: ./config.toml, else the built-in copy).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on, overriding the configuration (port 0 picks a
    /// free port).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Start an embedded ZeyOS simulator with seeded data and serve it.
    #[arg(long)]
    demo: bool,
    /// Accounts in the demo data set (with --demo).
    #[arg(long, default_value_t = 1000)]
    scale: usize,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal: in a log file or a collector
        // they are noise around every field (and cost formatting time).
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("zeyos-odata: {message}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(path: Option<&PathBuf>) -> Result<Config, String> {
    match path {
        Some(p) => Config::load(p).map_err(|e| e.to_string()),
        None => {
            let default = PathBuf::from("config.toml");
            if default.exists() {
                Config::load(&default).map_err(|e| e.to_string())
            } else {
                Config::from_str(
                    zeyos_odata::config::SHIPPED_CONFIG,
                    "config.toml (built in)",
                )
                .map_err(|e| e.to_string())
            }
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let mut config = load_config(args.config.as_ref())?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    let sim = if args.demo {
        let sim = zeyos_sim::start(zeyos_sim::SimConfig {
            scale: args.scale,
            ..Default::default()
        })
        .await
        .map_err(|e| format!("cannot start the demo backend: {e}"))?;
        config = config
            .with_upstream_base_url(&sim.base_url())
            .map_err(|e| e.to_string())?;
        // zeyos-sim accepts any application secret; real instances need
        // theirs in config.toml.
        if config.upstream.appsecret.is_none() {
            config.upstream.appsecret = Some(zeyos_odata::config::Secret::new("demo"));
        }
        Some(sim)
    } else {
        None
    };
    let listen = config.listen;
    let gateway = Gateway::new(config).map_err(|e| e.to_string())?;
    let server = serve(gateway.clone(), listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = server.addr();
    println!("listening on http://{addr}");
    for s in &gateway.services {
        println!(
            "  OData service {:<8} http://{addr}{}",
            s.model.name, s.model.root
        );
    }
    if let Some(sim) = &sim {
        println!("  demo backend (zeyos-sim)  {}", sim.api_url());
        println!();
        println!("In Excel or Power BI: Get Data > OData feed > http://{addr}/odata/");
        println!("  then choose Basic and log in as demo / demo (or viewer / viewer).");
        println!(
            "Try: curl -u demo:demo 'http://{addr}/odata/Accounts?$top=3&$select=Id,LastName'"
        );
    } else {
        println!(
            "  upstream ZeyOS            {}",
            gateway.upstream.settings().base_url
        );
        if gateway.config.upstream.appsecret.is_none() {
            tracing::warn!(
                "upstream.appsecret is not set; ZeyOS instances ask for the application's secret at every login"
            );
        }
    }
    stop_requested().await;
    eprintln!("stopping");
    server.shutdown().await;
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    Ok(())
}

/// Waits for Ctrl-C or, on Unix, SIGTERM: what `docker stop`, Kubernetes
/// and systemd send before they kill a process, so a rolling restart gets
/// the same graceful stop as an interactive one.
async fn stop_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
                return;
            }
            Err(e) => eprintln!("cannot watch for SIGTERM ({e}); stopping on Ctrl-C only"),
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
