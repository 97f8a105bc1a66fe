//! `zeyos-sim` binary: serves the simulator until interrupted.
#![forbid(unsafe_code)]

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use zeyos_sim::{Faults, SimConfig};

/// A reference ZeyOS backend on SQLite.
#[derive(Debug, Parser)]
#[command(name = "zeyos-sim", version)]
struct Cli {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8091")]
    listen: SocketAddr,
    /// Number of accounts; other entities are sized from it.
    #[arg(long, default_value_t = 1000)]
    scale: usize,
    /// SQLite file; reused without reseeding if it exists.
    #[arg(long)]
    db: Option<PathBuf>,
    /// Seed of the data generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Instance name in the URL.
    #[arg(long, default_value = "demo")]
    instance: String,
    /// Application secret required at login (default: any non-empty one).
    #[arg(long)]
    appsecret: Option<String>,
    /// Latency added to every API request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Probability of answering an API request with 500/503.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Probability of dropping the connection without a response.
    #[arg(long, default_value_t = 0.0)]
    drop_rate: f64,
    /// Streamed list answers break off after this many bytes.
    #[arg(long)]
    cut_lists_after: Option<usize>,
    /// Gzip response bodies for clients that accept it.
    #[arg(long)]
    gzip: bool,
    /// Send list answers whole, after the last record is encoded, instead
    /// of streaming them while the records are read.
    #[arg(long)]
    buffer_lists: bool,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    for (name, rate) in [("error-rate", cli.error_rate), ("drop-rate", cli.drop_rate)] {
        if !(0.0..=1.0).contains(&rate) {
            eprintln!("zeyos-sim: --{name} must be between 0 and 1");
            return ExitCode::FAILURE;
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("zeyos-sim: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let config = SimConfig {
            listen: cli.listen,
            scale: cli.scale,
            db: cli.db,
            instance: cli.instance,
            faults: Faults {
                latency: Duration::from_millis(cli.latency_ms),
                error_rate: cli.error_rate,
                drop_rate: cli.drop_rate,
                cut_lists_after: cli.cut_lists_after,
                seed: cli.seed,
            },
            seed: cli.seed,
            app_secret: cli.appsecret,
            gzip: cli.gzip,
            buffer_lists: cli.buffer_lists,
        };
        let sim = match zeyos_sim::start(config).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("zeyos-sim: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut out = std::io::stdout();
        let _ = writeln!(out, "listening on {}", sim.base_url());
        let _ = out.flush();
        if let Err(e) = tokio::signal::ctrl_c().await {
            eprintln!("zeyos-sim: cannot wait for Ctrl-C: {e}");
        }
        sim.shutdown().await;
        ExitCode::SUCCESS
    })
}
