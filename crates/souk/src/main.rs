//! `souk`: one binary for the whole marketplace.

mod bench;
mod bench_flash;
mod bench_orders;
mod carrier;
mod config;
mod http;
mod ops;

use clap::{Parser, Subcommand};
use config::{Config, ConfigArgs, ServerArgs, StoreArgs};
use indicatif::{ProgressBar, ProgressStyle};
use souk_app::seed::{seed_demo, seed_synthetic, DEMO_LOGINS};
use souk_app::App;
use souk_domain::account::{normalize_email, validate_password, Role, StoreInput};
use souk_store::{Store, SystemClock};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "souk", version, about = "A self-hostable marketplace with escrowed payments")]
struct Cli {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the marketplace.
    Serve {
        /// Seed a demo marketplace into an empty store first, and print its log-ins.
        #[arg(long)]
        demo: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Run pending database migrations and exit.
    Migrate,
    /// Print the effective configuration, secrets blanked.
    Config {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Add synthetic products (for benchmarks) to a store of their own.
    Seed {
        /// How many synthetic products to add.
        #[arg(long)]
        products: u64,
    },
    /// Rebuild the search index from the store (stop the server first: it holds the index).
    Reindex,
    /// Import data from files.
    Import {
        #[command(subcommand)]
        what: ImportCommand,
    },
    /// Measure performance; prints figures (one JSON object with --json).
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
    /// Operator commands.
    Admin {
        #[command(subcommand)]
        action: AdminCommand,
    },
    /// Carrier tools.
    Carrier {
        #[command(subcommand)]
        what: CarrierCommand,
    },
    /// Copy the embedded database to FILE while the server keeps serving (PostgreSQL: pg_dump).
    Backup {
        /// Where to write the copy.
        file: PathBuf,
    },
    /// Replace the embedded database with the backup FILE, checked first (stop the server).
    Restore {
        /// A file `souk backup` wrote.
        file: PathBuf,
        /// Replace an existing database (it is kept as souk.db.replaced-*).
        #[arg(long)]
        force: bool,
    },
    /// Export data as CSV.
    Export {
        #[command(subcommand)]
        what: ExportCommand,
    },
}

#[derive(Subcommand)]
enum ExportCommand {
    /// A store's orders, newest first, to standard output or --out.
    Orders {
        /// The store's slug.
        #[arg(long)]
        store: String,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum CarrierCommand {
    /// Play a carrier for a running server: every parcel shipped with the carrier is picked up,
    /// in transit, out for delivery and delivered, one step per interval after shipping, each a
    /// signed event posted to the server's carrier endpoint.
    Simulate {
        /// The server's base address.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// `sandbox` (signed with the sandbox secret; the server must run with the sandbox
        /// carrier on) or a carrier whose secret `[carriers]` configures.
        #[arg(long, default_value = "sandbox")]
        carrier: String,
        /// Seconds between a parcel's steps.
        #[arg(long, default_value_t = 20.0)]
        step_s: f64,
        /// Post what is due now and exit, instead of running until stopped.
        #[arg(long)]
        once: bool,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Import products from CSV into a store (docs/api.md lists the columns).
    Products {
        /// The store's slug.
        #[arg(long)]
        store: String,
        /// The CSV file.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Search: seeds synthetic products up to N (reusing those there), times a full index
    /// build, then runs a fixed mix of queries with filters and re-ranking.
    Search {
        /// Products in the index (synthetic ones are added up to this number).
        #[arg(long, default_value_t = 100_000)]
        products: u64,
        /// Queries to run.
        #[arg(long, default_value_t = 5_000)]
        queries: usize,
        /// Threads issuing queries at once.
        #[arg(long, default_value_t = 2)]
        clients: usize,
        /// Print one JSON object instead of lines for people.
        #[arg(long)]
        json: bool,
    },
    /// The everyday order path over HTTP: a `souk serve` child process, concurrent buyers
    /// putting an item in the cart, checking out and paying, reading pages, orders and wallets,
    /// confirming what shipped, and sellers shipping. Runs on a fresh embedded database unless
    /// --database-url names one.
    Orders {
        /// Concurrent buyers, each with its own connection.
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Seconds to drive load for.
        #[arg(long, default_value_t = 30)]
        duration_s: u64,
        /// Stores selling.
        #[arg(long, default_value_t = 50)]
        sellers: usize,
        /// Products each store lists.
        #[arg(long, default_value_t = 20)]
        products_per_seller: usize,
        /// Buyer accounts, funded, that the clients take turns as.
        #[arg(long, default_value_t = 2_000)]
        buyers: usize,
        /// Completed orders written in bulk before the run.
        #[arg(long, default_value_t = 0)]
        past_orders: u64,
        /// Paid orders awaiting shipment written in bulk before the run.
        #[arg(long, default_value_t = 0)]
        open_orders: u64,
        /// Keep the database in --data-dir (or --database-url) and reuse its history next time.
        #[arg(long)]
        keep: bool,
        /// Print one JSON object instead of lines for people.
        #[arg(long)]
        json: bool,
    },
    /// A flash sale: funded buyers, hot SKUs on promotion, concurrent clients buying through the
    /// batched order engine, then the same with one transaction per order. Runs on a fresh
    /// embedded database unless --database-url names one.
    FlashSale {
        /// Funded buyer accounts.
        #[arg(long, default_value_t = 10_000)]
        buyers: usize,
        /// SKUs on promotion.
        #[arg(long, default_value_t = 10)]
        skus: usize,
        /// Promotion units per SKU.
        #[arg(long, default_value_t = 100_000)]
        stock: i64,
        /// Concurrent clients buying.
        #[arg(long, default_value_t = 1_000)]
        clients: usize,
        /// Buy requests in all.
        #[arg(long, default_value_t = 200_000)]
        requests: usize,
        /// Requests of the one-transaction-per-order baseline [default: a tenth of --requests,
        /// at least 200].
        #[arg(long)]
        baseline_requests: Option<usize>,
        /// The most requests the in-process engine decides in one transaction.
        #[arg(long, default_value_t = souk_app::flash::EngineConfig::default().max_batch)]
        max_batch: usize,
        /// Buy through the API of the server at this address (e.g. http://127.0.0.1:8080),
        /// which must use the same --data-dir or --database-url as this command.
        #[arg(long)]
        url: Option<String>,
        /// Print one JSON object instead of lines for people.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a user whose password is read from a file (first line).
    CreateUser {
        /// The new user's email address (their log-in).
        #[arg(long)]
        email: String,
        /// A file whose first line is the password (kept out of the shell's history).
        #[arg(long)]
        password_file: PathBuf,
    },
    /// Grant a role (seller, mediator, admin) to the user with this email.
    Grant {
        /// The user's email address.
        email: String,
        /// seller, mediator or admin.
        role: String,
    },
    /// Verify the books; prints a JSON summary and exits 0 when sound, 1 when not.
    LedgerCheck,
    /// Open a store for an existing user.
    CreateStore {
        /// The owner's email address.
        #[arg(long)]
        owner: String,
        /// The store's name as buyers see it.
        #[arg(long)]
        name: String,
        /// The store's address: /stores/SLUG (lowercase letters, digits and dashes).
        #[arg(long)]
        slug: String,
        /// ISO country code where the store is based, e.g. CN.
        #[arg(long)]
        country: String,
        /// ISO-4217 currency the store prices in, e.g. CNY.
        #[arg(long)]
        currency: String,
        /// What the store sells, shown on its page.
        #[arg(long, default_value = "")]
        description: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let server = match &cli.command {
        Command::Serve { server, .. } | Command::Config { server } => server.clone(),
        _ => ServerArgs::default(),
    };
    let config = match Config::resolve(&ConfigArgs { store: cli.store.clone(), server }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("souk: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config.log, config.log_format == "json");
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("souk: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("souk: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(filter: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_new(format!("{filter},sqlx=warn"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    use std::io::IsTerminal;
    // Colour only for a person at a terminal: files and log collectors get plain text.
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if json {
        logs.json().flatten_event(true).init();
    } else {
        logs.init();
    }
}

async fn open_store(config: &Config) -> Result<Store, String> {
    let clock = Arc::new(SystemClock);
    let store = match &config.database_url {
        Some(url) => Store::connect(url, clock).await,
        None => Store::open_sqlite(&config.data_dir, clock).await,
    };
    store.map_err(|e| match &config.database_url {
        Some(_) => format!(
            "cannot use the database at --database-url: {e} (check that PostgreSQL is running and the URL, \
             user and database are right)"
        ),
        None => format!(
            "cannot open the database in {}: {e} (the directory must be writable by this user; \
             choose another with --data-dir or SOUK_DATA_DIR)",
            config.data_dir.display()
        ),
    })
}

/// A benchmark's report: one JSON object, or its lines for people.
fn print_report<R: serde::Serialize + std::fmt::Display>(json: bool, report: &R) -> Result<(), String> {
    if json {
        println!("{}", serde_json::to_string(report).map_err(err)?);
    } else {
        println!("{report}");
    }
    Ok(())
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

async fn run(command: Command, config: Config) -> Result<(), String> {
    match command {
        Command::Config { .. } => {
            println!("{}", serde_json::to_string_pretty(&config.redacted()).map_err(err)?);
            Ok(())
        }
        Command::Backup { file } => {
            let store = open_store(&config).await?;
            let done = ops::backup(&store, &file).await;
            store.close().await;
            println!("{}", done?);
            Ok(())
        }
        Command::Restore { file, force } => {
            let done = ops::restore(&config, &file, force).await?;
            let store = open_store(&config).await?;
            let rebuilt = reindex(&store, &config).await;
            store.close().await;
            rebuilt?;
            println!("{done}");
            Ok(())
        }
        Command::Export { what: ExportCommand::Orders { store: slug, out } } => {
            let store = open_store(&config).await?;
            let mut sink: Box<dyn std::io::Write> = match &out {
                Some(path) => Box::new(std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?),
                None => Box::new(std::io::stdout().lock()),
            };
            let rows = ops::export_orders(&store, &slug, &mut sink).await;
            store.close().await;
            eprintln!("exported {} orders", rows?);
            Ok(())
        }
        Command::Migrate => {
            let store = open_store(&config).await?;
            store.close().await;
            eprintln!("migrations are up to date");
            Ok(())
        }
        Command::Serve { demo, .. } => serve(config, demo).await,
        Command::Seed { products } => {
            let store = open_store(&config).await?;
            let bar = Progress::new(products, "products");
            let started = std::time::Instant::now();
            seed_synthetic(&store, products, |done| bar.set(done)).await.map_err(|e| e.message)?;
            bar.finish();
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "seeded {products} products in {secs:.1} s ({:.0} products/s)",
                products as f64 / secs.max(0.001)
            );
            reindex(&store, &config).await?;
            store.close().await;
            Ok(())
        }
        Command::Import { what: ImportCommand::Products { store: slug, file } } => {
            let store = open_store(&config).await?;
            let target = store.store_by_slug(&slug).await.map_err(|_| format!("no store with slug '{slug}'"))?;
            let data = std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let bar = Progress::new(data.len() as u64, "bytes");
            let report = souk_app::import::import_csv(&store, &target.id, &data, |(done, _)| bar.set(done))
                .await
                .map_err(|e| e.message)?;
            bar.finish();
            for e in &report.errors {
                eprintln!("line {}: {}", e.line, e.message);
            }
            println!(
                "{}",
                serde_json::json!({"created": report.created, "updated": report.updated, "failed": report.failed})
            );
            // The change feed carries the import to search: a running server picks it up at
            // once, a stopped one when it starts.
            store.close().await;
            Ok(())
        }
        Command::Bench {
            what:
                BenchCommand::FlashSale { buyers, skus, stock, clients, requests, baseline_requests, max_batch, url, json },
        } => {
            let scratch = std::env::temp_dir().join(format!("souk-flash-bench-{}", std::process::id()));
            let store = match (&config.database_url, &url) {
                (None, None) => Store::open_sqlite(&scratch, Arc::new(SystemClock)).await.map_err(err)?,
                _ => open_store(&config).await?,
            };
            let params = bench_flash::FlashParams {
                buyers,
                skus,
                stock,
                clients,
                requests,
                baseline_requests: baseline_requests.unwrap_or((requests / 10).max(200)).min(requests),
                max_batch: max_batch.max(1),
            };
            let policy = &config.server_config().policy;
            let report = match &url {
                Some(url) => bench_flash::run_http(&store, policy, url, params).await,
                None => bench_flash::run(&store, policy, params).await,
            };
            store.close().await;
            let _ = std::fs::remove_dir_all(&scratch);
            print_report(json, &report?)
        }
        Command::Bench {
            what:
                BenchCommand::Orders {
                    clients,
                    duration_s,
                    sellers,
                    products_per_seller,
                    buyers,
                    past_orders,
                    open_orders,
                    keep,
                    json,
                },
        } => {
            let params = bench_orders::OrdersParams {
                clients: clients.max(1),
                duration: std::time::Duration::from_secs(duration_s.max(1)),
                sellers,
                products_per_seller,
                buyers,
                past_orders,
                open_orders,
            };
            let scratch = std::env::temp_dir().join(format!("souk-orders-bench-{}", std::process::id()));
            let (store, data_dir) = match (&config.database_url, keep) {
                (None, false) => {
                    (Store::open_sqlite(&scratch, Arc::new(SystemClock)).await.map_err(err)?, scratch.clone())
                }
                _ => (open_store(&config).await?, config.data_dir.clone()),
            };
            let backend = format!("{:?}", store.backend()).to_lowercase();
            let market = bench_orders::prepare(&store, &params, &config.server_config().policy).await;
            store.close().await;
            let report = match market {
                Ok(prepared) => {
                    let url = config.database_url.as_deref();
                    bench_orders::run_on_server(prepared, &data_dir, url, &params, &backend).await
                }
                Err(e) => Err(e),
            };
            let _ = std::fs::remove_dir_all(&scratch);
            print_report(json, &report?)
        }
        Command::Bench { what: BenchCommand::Search { products, queries, clients, json } } => {
            let store = open_store(&config).await?;
            let report = bench::search(&store, &config, products, queries, clients).await;
            store.close().await;
            print_report(json, &report?)
        }
        Command::Admin { action } => admin(action, &config).await,
        Command::Carrier { what: CarrierCommand::Simulate { url, carrier, step_s, once } } => {
            let store = open_store(&config).await?;
            let sim = carrier::Simulator::new(&config, &url, &carrier, step_s);
            let result = match sim {
                Ok(sim) if once => sim.round(&store).await.map(|r| println!("{}", r.json())),
                Ok(sim) => sim.run(&store, shutdown_signal()).await,
                Err(e) => Err(e),
            };
            store.close().await;
            result
        }
        Command::Reindex => {
            let store = open_store(&config).await?;
            reindex(&store, &config).await?;
            store.close().await;
            Ok(())
        }
    }
}

fn open_index(config: &Config) -> Result<(souk_search::SearchIndex, bool), String> {
    souk_search::SearchIndex::open(&config.data_dir.join("index"))
        .map_err(|e| format!("{e}; stop the server and run `souk reindex`"))
}

async fn reindex(store: &Store, config: &Config) -> Result<(), String> {
    let (index, _) = open_index(config)?;
    rebuild_index(store, &Arc::new(index), &config.trust).await
}

async fn rebuild_index(
    store: &Store,
    index: &Arc<souk_search::SearchIndex>,
    trust: &souk_domain::trust::TrustWeights,
) -> Result<(), String> {
    let total = store.count_products().await.map_err(err)?;
    let bar = Progress::new(total.max(0) as u64, "products");
    let started = std::time::Instant::now();
    let n = souk_app::search_sync::rebuild(store, index, trust, |done| bar.set(done)).await.map_err(|e| e.message)?;
    bar.finish();
    eprintln!("indexed {n} active products in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// How far a long command is: a bar on a terminal; elsewhere (scripts, CI, logs) a plain line
/// at each tenth of the way, so a watcher still sees it move.
pub(crate) struct Progress {
    bar: ProgressBar,
    len: u64,
    unit: String,
    lines: bool,
    /// The next tenth to print a line at.
    next: std::sync::atomic::AtomicU64,
}

impl Progress {
    pub(crate) fn new(len: u64, unit: &str) -> Progress {
        use std::io::IsTerminal;
        let bar = ProgressBar::new(len);
        let template = format!("{{bar:40}} {{pos}}/{{len}} {unit} ({{per_sec}}, {{eta}} left)");
        bar.set_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()));
        let lines = !std::io::stderr().is_terminal() && len > 0;
        Progress { bar, len, unit: unit.to_string(), lines, next: 1.into() }
    }

    pub(crate) fn set(&self, done: u64) {
        self.bar.set_position(done);
        if !self.lines {
            return;
        }
        use std::sync::atomic::Ordering;
        let tenth = done.saturating_mul(10) / self.len;
        let next = self.next.load(Ordering::Relaxed);
        if tenth >= next && self.next.compare_exchange(next, tenth + 1, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            eprintln!("{done}/{} {} ({}%)", self.len, self.unit, tenth.min(10) * 10);
        }
    }

    pub(crate) fn finish(&self) {
        self.bar.finish();
    }
}

/// Where the data lives, as an operator names it.
fn where_data(config: &Config) -> String {
    match &config.database_url {
        Some(_) => "the database at --database-url".to_string(),
        None => format!("the data directory {}", config.data_dir.display()),
    }
}

async fn serve(config: Config, demo: bool) -> Result<(), String> {
    // Plain lines for people; with JSON logs, log records like everything else.
    let json = config.log_format == "json";
    let say = |line: String| if json { tracing::info!("{line}") } else { eprintln!("{line}") };
    let store = open_store(&config).await?;
    let mut server_config: souk_app::Config = config.server_config();
    if demo {
        let already_demo = store.user_by_email(DEMO_LOGINS[0].email).await.is_ok();
        let seeded = !already_demo && {
            say("seeding the demo marketplace...".into());
            seed_demo(&store, 72, &server_config.policy).await.map_err(|e| e.message)?
        };
        if seeded || already_demo {
            if already_demo {
                say(format!("{} already holds the demo marketplace: serving it as it is", where_data(&config)));
            }
            say("demo log-ins (the log-in page, or POST /api/v1/auth/login):".into());
            for l in &DEMO_LOGINS {
                say(format!("  {:<9} {:<22} password: {}", l.role, l.email, l.password));
            }
        } else {
            say(format!(
                "not seeding the demo: {} already holds a marketplace of its own, and the demo is only \
                 seeded into an empty one (use another --data-dir to try the demo)",
                where_data(&config)
            ));
        }
    }
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr().map_err(err)?;
    // The demo marketplace moves: the sandbox carrier delivers what demo sellers ship.
    server_config.carrier_sandbox |= demo;
    server_config.demo = demo;
    if demo && config.staff_two_factor.is_none() {
        server_config.staff_two_factor = false;
        say("demo: the demo's mediator and admin act without two-step sign-in (--staff-two-factor true to require it)"
            .into());
    }
    let app = App::open(store.clone(), server_config).await?;
    say(format!("souk is serving http://{addr} (API under /api/v1, document at /api/v1/openapi.json)"));
    if app.provider.name() == souk_app::payments::SANDBOX {
        say("payments: SANDBOX provider: top-ups take test cards only and move no real money".into());
    }
    souk_server::serve(app, listener, shutdown_signal()).await.map_err(err)?;
    store.close().await;
    say("souk stopped".into());
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

async fn admin(action: AdminCommand, config: &Config) -> Result<(), String> {
    let store = open_store(config).await?;
    let result = match action {
        AdminCommand::CreateUser { email, password_file } => {
            let text = std::fs::read_to_string(&password_file)
                .map_err(|e| format!("cannot read {}: {e}", password_file.display()))?;
            let password = text.lines().next().unwrap_or("").to_string();
            let norm = normalize_email(&email).map_err(err)?;
            validate_password(&password).map_err(err)?;
            let hash = souk_app::accounts::hash_password(password).await.map_err(|e| e.message)?;
            let local = norm.split('@').next().unwrap_or("").to_string();
            let mut tx = store.begin().await.map_err(err)?;
            let user = tx.create_user(email.trim(), &norm, &hash, &local).await.map_err(err)?;
            tx.commit().await.map_err(err)?;
            println!("{}", serde_json::json!({"id": user.id, "email": user.email}));
            Ok(())
        }
        AdminCommand::Grant { email, role } => {
            let role =
                Role::parse(&role).ok_or_else(|| format!("unknown role '{role}': use seller, mediator or admin"))?;
            let norm = normalize_email(&email).map_err(err)?;
            let mut tx = store.begin().await.map_err(err)?;
            let user = tx.user_by_email(&norm).await.map_err(|_| format!("no user with email {email}"))?;
            tx.grant_role(&user.id, role, souk_store::audit::CLI_ACTOR).await.map_err(err)?;
            tx.commit().await.map_err(err)?;
            println!("{}", serde_json::json!({"id": user.id, "granted": role.as_str()}));
            Ok(())
        }
        AdminCommand::LedgerCheck => {
            let report = store.ledger_check().await.map_err(err)?;
            println!("{}", serde_json::to_string_pretty(&report).map_err(err)?);
            if report.sound {
                Ok(())
            } else {
                Err(format!("the ledger is not sound: {} problem(s)", report.problems.len()))
            }
        }
        AdminCommand::CreateStore { owner, name, slug, country, currency, description } => {
            let draft = StoreInput { name, slug, country, currency, description }.validate().map_err(err)?;
            let norm = normalize_email(&owner).map_err(err)?;
            let mut tx = store.begin().await.map_err(err)?;
            let user = tx.user_by_email(&norm).await.map_err(|_| format!("no user with email {owner}"))?;
            let created = tx.create_store(&user.id, &draft).await.map_err(err)?;
            tx.commit().await.map_err(err)?;
            println!("{}", serde_json::to_string(&created).map_err(err)?);
            Ok(())
        }
    };
    store.close().await;
    result
}
