//! `event-ingest stats`: GET /aggregates (or /aggregates/hourly) as a table or JSON.

use event_ingest::{Client, StatsQuery};

use super::args::StatsArgs;
use super::exit;
use super::failed::exit_for;

pub async fn run(args: StatsArgs, client: Client) -> u8 {
    let query = StatsQuery {
        client_id: args.client,
        from: args.from,
        to: args.to,
        metric: args.metric,
        hourly: args.hourly,
    };
    let answer = match client.aggregates(&query).await {
        Ok(answer) => answer,
        Err(error) => {
            eprintln!("event-ingest: {error}");
            return exit_for(&error);
        }
    };
    if args.json {
        println!("{answer}");
        return exit::OK;
    }
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".to_owned(),
        other => other.to_string(),
    };
    println!(
        "client {}  from {}  to {}  metric {}",
        text(&answer["client_id"]),
        text(&answer["from"]),
        text(&answer["to"]),
        text(&answer["metric"])
    );
    if query.hourly {
        println!("{:<22} {:>10} {:>24}", "HOUR", "COUNT", "TOTAL");
        for bucket in answer["buckets"].as_array().into_iter().flatten() {
            println!(
                "{:<22} {:>10} {:>24}",
                text(&bucket["hour"]),
                text(&bucket["count"]),
                text(&bucket["total_amount"])
            );
        }
    } else {
        println!("{:>10} {:>24}", "COUNT", "TOTAL");
        println!(
            "{:>10} {:>24}",
            text(&answer["count"]),
            text(&answer["total_amount"])
        );
    }
    exit::OK
}
