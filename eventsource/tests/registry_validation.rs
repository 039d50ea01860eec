//! Registry validation: every inconsistency is found, all at once.

use eventsource::UpcastError;
use eventsource::registry::{
    AggregateRegistration, CommandRegistration, EventRegistration, ProjectionRegistration,
    Registry, RegistryParts, RegistryProblem, SagaRegistration, UpcasterRegistration,
};
use serde_json::Value;

fn identity(v: Value) -> Result<Value, UpcastError> {
    Ok(v)
}

fn event(name: &'static str, version: u32, rust_type: &'static str) -> EventRegistration {
    EventRegistration::new(name, version, &[], rust_type)
}

fn upcaster(event: &'static str, from: u32, function: &'static str) -> UpcasterRegistration {
    UpcasterRegistration::new(event, from, identity, function)
}

fn problems(parts: RegistryParts) -> Vec<RegistryProblem> {
    match Registry::build(parts).validate() {
        Ok(()) => Vec::new(),
        Err(report) => report.problems,
    }
}

#[test]
fn a_consistent_registry_validates() {
    let parts = RegistryParts {
        events: vec![event("a.One", 3, "x::One"), event("a.Two", 1, "x::Two")],
        upcasters: vec![
            upcaster("a.One", 1, "x::up1"),
            upcaster("a.One", 2, "x::up2"),
        ],
        aggregates: vec![AggregateRegistration {
            name: "a.Agg",
            rust_type: "x::Agg",
            events: &["a.One", "a.Two"],
            snapshot_every: None,
        }],
        commands: vec![CommandRegistration {
            name: "a.Do",
            rust_type: "x::Do",
            aggregate: "a.Agg",
        }],
        ..RegistryParts::default()
    };
    assert_eq!(problems(parts), []);
}

#[test]
fn two_types_claiming_one_name() {
    let parts = RegistryParts {
        events: vec![
            event("a.Same", 1, "crate_one::Same"),
            event("a.Same", 1, "crate_two::Same"),
        ],
        ..RegistryParts::default()
    };
    assert_eq!(
        problems(parts),
        [RegistryProblem::DuplicateEventName {
            name: "a.Same",
            types: vec!["crate_one::Same", "crate_two::Same"],
        }]
    );
}

#[test]
fn a_missing_link_in_a_chain() {
    let parts = RegistryParts {
        events: vec![event("a.Long", 4, "x::Long")],
        upcasters: vec![
            upcaster("a.Long", 1, "x::up1"),
            upcaster("a.Long", 3, "x::up3"),
        ],
        ..RegistryParts::default()
    };
    assert_eq!(
        problems(parts),
        [RegistryProblem::MissingUpcaster {
            event: "a.Long",
            from: 2,
            current: 4,
        }]
    );
}

#[test]
fn an_upcaster_at_or_above_the_current_version() {
    let parts = RegistryParts {
        events: vec![event("a.Ev", 2, "x::Ev")],
        upcasters: vec![
            upcaster("a.Ev", 1, "x::fine"),
            upcaster("a.Ev", 2, "x::at"),
            upcaster("a.Ev", 5, "x::above"),
        ],
        ..RegistryParts::default()
    };
    assert_eq!(
        problems(parts),
        [
            RegistryProblem::UpcasterNotBelowCurrent {
                event: "a.Ev",
                from: 2,
                current: 2,
                function: "x::at",
            },
            RegistryProblem::UpcasterNotBelowCurrent {
                event: "a.Ev",
                from: 5,
                current: 2,
                function: "x::above",
            },
        ]
    );
}

#[test]
fn two_upcasters_for_one_step() {
    let parts = RegistryParts {
        events: vec![event("a.Ev", 2, "x::Ev")],
        upcasters: vec![
            upcaster("a.Ev", 1, "x::first"),
            upcaster("a.Ev", 1, "y::second"),
        ],
        ..RegistryParts::default()
    };
    assert_eq!(
        problems(parts),
        [RegistryProblem::DuplicateUpcaster {
            event: "a.Ev",
            from: 1,
            functions: vec!["x::first", "y::second"],
        }]
    );
}

#[test]
fn an_upcaster_registered_under_an_alias_counts_for_the_event() {
    let parts = RegistryParts {
        events: vec![EventRegistration::new("a.New", 2, &["a.Old"], "x::New")],
        upcasters: vec![upcaster("a.Old", 1, "x::up")],
        ..RegistryParts::default()
    };
    let registry = Registry::build(parts);
    assert_eq!(registry.validate(), Ok(()));
    assert_eq!(registry.upcasters().next().map(|u| u.from), Some(1));
}

#[test]
fn alias_collisions() {
    let parts = RegistryParts {
        events: vec![
            EventRegistration::new("a.First", 1, &["a.Second", "a.Shared"], "x::First"),
            event("a.Second", 1, "x::Second"),
            EventRegistration::new("a.Third", 1, &["a.Shared"], "x::Third"),
        ],
        ..RegistryParts::default()
    };
    assert_eq!(
        problems(parts),
        [
            RegistryProblem::AliasCollision {
                alias: "a.Second",
                event: "a.First",
                other: "a.Second",
            },
            RegistryProblem::AliasCollision {
                alias: "a.Shared",
                event: "a.Third",
                other: "a.First",
            },
        ]
    );
}

#[test]
fn unknown_names_and_duplicate_handlers() {
    let parts = RegistryParts {
        events: vec![event("a.Known", 1, "x::Known")],
        upcasters: vec![upcaster("a.Ghost", 1, "x::haunt")],
        aggregates: vec![
            AggregateRegistration {
                name: "a.Agg",
                rust_type: "x::Agg",
                events: &["a.Known", "a.Missing"],
                snapshot_every: Some(10),
            },
            AggregateRegistration {
                name: "a.Agg",
                rust_type: "y::Agg",
                events: &["a.Known"],
                snapshot_every: None,
            },
        ],
        commands: vec![
            CommandRegistration {
                name: "a.Cmd",
                rust_type: "x::Cmd",
                aggregate: "a.Nowhere",
            },
            CommandRegistration {
                name: "a.Cmd",
                rust_type: "y::Cmd",
                aggregate: "a.Agg",
            },
        ],
        projections: vec![ProjectionRegistration {
            name: "balances",
            rust_type: "x::Balances",
            events: &["a.Vanished"],
            version: 1,
        }],
        sagas: vec![
            SagaRegistration::new("flow", "x::Flow", &["a.Known"]),
            SagaRegistration::new("flow", "y::Flow", &["a.Known"]),
        ],
        queries: Vec::new(),
        query_handlers: Vec::new(),
    };
    let found = problems(parts);
    let expected = [
        RegistryProblem::UpcasterForUnknownEvent {
            event: "a.Ghost",
            function: "x::haunt",
        },
        RegistryProblem::DuplicateName {
            kind: "aggregate",
            name: "a.Agg",
            types: vec!["x::Agg", "y::Agg"],
        },
        RegistryProblem::UnknownEventHandled {
            kind: "aggregate",
            name: "a.Agg",
            event: "a.Missing",
        },
        RegistryProblem::UnknownEventHandled {
            kind: "projection",
            name: "balances",
            event: "a.Vanished",
        },
        RegistryProblem::DuplicateName {
            kind: "saga",
            name: "flow",
            types: vec!["x::Flow", "y::Flow"],
        },
        RegistryProblem::DuplicateName {
            kind: "command",
            name: "a.Cmd",
            types: vec!["x::Cmd", "y::Cmd"],
        },
        RegistryProblem::UnknownAggregate {
            command: "a.Cmd",
            aggregate: "a.Nowhere",
        },
    ];
    assert_eq!(found, expected);
}

#[test]
fn every_problem_is_reported_at_once_in_a_readable_report() {
    let parts = RegistryParts {
        events: vec![
            event("a.Dup", 1, "x::Dup"),
            event("a.Dup", 1, "y::Dup"),
            event("a.Chain", 3, "x::Chain"),
        ],
        upcasters: vec![upcaster("a.Chain", 7, "x::late")],
        ..RegistryParts::default()
    };
    let report = Registry::build(parts).validate().unwrap_err();
    assert_eq!(report.problems.len(), 4, "{report}");
    let text = report.to_string();
    for needle in [
        "4 problem(s)",
        "event name `a.Dup` is claimed by `x::Dup` and `y::Dup`",
        "`a.Chain` has no upcaster from version 1 to 2 (current version 3)",
        "`a.Chain` has no upcaster from version 2 to 3",
        "upcaster `x::late` starts at version 7 of `a.Chain`",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn a_projection_and_a_saga_sharing_a_name() {
    let handles = &["a.Known"];
    let parts = RegistryParts {
        events: vec![event("a.Known", 1, "x::Known")],
        projections: vec![
            ProjectionRegistration {
                name: "shared",
                rust_type: "x::Balances",
                events: handles,
                version: 1,
            },
            ProjectionRegistration {
                name: "only.projection",
                rust_type: "x::Totals",
                events: handles,
                version: 1,
            },
        ],
        sagas: vec![
            SagaRegistration::new("shared", "y::Fulfilment", handles),
            SagaRegistration::new("only.saga", "y::Welcome", handles),
        ],
        ..RegistryParts::default()
    };
    let report = Registry::build(parts).validate().unwrap_err();
    assert_eq!(
        report.problems,
        [RegistryProblem::ProjectionAndSagaShareName {
            name: "shared",
            projections: vec!["x::Balances"],
            sagas: vec!["y::Fulfilment"],
        }]
    );
    let text = report.to_string();
    assert!(
        text.contains(
            "projection `x::Balances` and saga `y::Fulfilment` are both named `shared`: \
             they would share one checkpoint, one lease and one set of dead-letter entries; \
             rename one of them"
        ),
        "{text}"
    );
}

#[test]
fn a_name_shared_by_several_projections_and_sagas_is_reported_with_every_type() {
    let handles = &["a.Known"];
    let projection = |rust_type| ProjectionRegistration {
        name: "shared",
        rust_type,
        events: handles,
        version: 1,
    };
    let saga = |rust_type| SagaRegistration::new("shared", rust_type, handles);
    let parts = RegistryParts {
        events: vec![event("a.Known", 1, "x::Known")],
        projections: vec![projection("x::Two"), projection("x::One")],
        sagas: vec![saga("y::Flow")],
        ..RegistryParts::default()
    };
    assert_eq!(
        problems(parts),
        [
            RegistryProblem::DuplicateName {
                kind: "projection",
                name: "shared",
                types: vec!["x::One", "x::Two"],
            },
            RegistryProblem::ProjectionAndSagaShareName {
                name: "shared",
                projections: vec!["x::One", "x::Two"],
                sagas: vec!["y::Flow"],
            },
        ]
    );
}

#[test]
fn two_versions_of_a_projection_may_share_its_name_but_not_a_version() {
    let handles = &["a.Known"];
    let projection = |rust_type, version| {
        ProjectionRegistration::new("shared", rust_type, handles).versioned(version)
    };
    let versions = RegistryParts {
        events: vec![event("a.Known", 1, "x::Known")],
        projections: vec![projection("x::V1", 1), projection("x::V2", 2)],
        ..RegistryParts::default()
    };
    Registry::build(versions).validate().unwrap();
    let clash = RegistryParts {
        events: vec![event("a.Known", 1, "x::Known")],
        projections: vec![projection("x::V2", 2), projection("y::AlsoV2", 2)],
        ..RegistryParts::default()
    };
    let report = Registry::build(clash).validate().unwrap_err();
    assert!(
        report.problems.iter().any(|p| matches!(
            p,
            RegistryProblem::DuplicateName { kind: "projection", name: "shared", types } if types.len() == 2
        )),
        "{report}"
    );
}

#[test]
fn a_query_with_two_handlers_and_two_queries_with_one_name() {
    use eventsource::registry::{QueryHandlerRegistration, QueryRegistration};
    let parts = RegistryParts {
        queries: vec![
            QueryRegistration::new("q.Order", "x::GetOrder", "Option<x::View>"),
            QueryRegistration::new("q.Order", "y::GetOrder", "y::View"),
            QueryRegistration::new("q.Stock", "x::Stock", "u32"),
        ],
        query_handlers: vec![
            QueryHandlerRegistration::new("q.Order", "x::Summaries", "order"),
            QueryHandlerRegistration::new("q.Stock", "x::Stock", "stock"),
            QueryHandlerRegistration::new("q.Order", "y::Orders", "get"),
        ],
        ..RegistryParts::default()
    };
    let found = problems(parts);
    assert_eq!(
        found,
        [
            RegistryProblem::DuplicateName {
                kind: "query",
                name: "q.Order",
                types: vec!["x::GetOrder", "y::GetOrder"],
            },
            RegistryProblem::DuplicateQueryHandler {
                query: "q.Order",
                handlers: vec!["x::Summaries::order".into(), "y::Orders::get".into()],
            },
        ]
    );
    assert_eq!(
        found[1].to_string(),
        "query `q.Order` is answered by `x::Summaries::order` and `y::Orders::get`: a query has one handler; remove all but one"
    );
}
