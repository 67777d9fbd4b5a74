//! SAP's search (`GET /scheduler/search/jobs`, `GET /scheduler/search/schedules`) and the job
//! list's `filter`, `sort_by`, `sort_order`, `jobType`, `tenantId` and schedule counts, on
//! the real store: only the caller's tenant's jobs, SAP's fields and errors.

use chime_testkit::TestEnv;
use serde_json::{json, Value};

/// `route` with `params` encoded as a query string.
fn path(route: &str, params: &[(&str, &str)]) -> String {
    let u = reqwest::Url::parse_with_params(&format!("http://h{route}"), params).unwrap();
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    }
}

/// A 400 in SAP's shape whose message starts with `start`.
fn bad_request(st: u16, body: &Value, start: &str) {
    assert_eq!(st, 400, "{body}");
    assert_eq!(body["code"], 400, "{body}");
    assert_eq!(body["type"], "Bad Request/Invalid Request", "{body}");
    assert_eq!(body["detailedError"], body["message"], "{body}");
    let msg = body["message"].as_str().unwrap();
    assert!(msg.starts_with(start), "{msg} should start with {start}");
}

fn names(list: &Value) -> Vec<&str> {
    list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect()
}

/// Three jobs of one tenant, and one of another whose jobs must never appear. Returns the
/// ids of `validateSalesOrder`, `archiveSalesOrder` and `sendInvoices`.
async fn seed(env: &TestEnv, token: &str, other: &str) -> [u64; 3] {
    let c = env.client();
    let validate = c
        .create_job(
            token,
            json!({"name": "validateSalesOrder",
                "description": "cron job that validates sales order requests",
                "action": "http://127.0.0.1:9/salesOrders/validate", "active": true,
                "httpMethod": "PUT", "startTime": "2027-03-01T00:00:00Z",
                "endTime": "2027-11-30T00:00:00Z",
                "schedules": [{"cron": "* * * * * */10 0", "active": true,
                    "description": "this schedule runs every 10 minutes",
                    "data": {"salesOrderId": "1234"}, "startTime": "2027-01-01T00:00:00Z"}]}),
        )
        .await;
    let archive = c
        .create_job(
            token,
            json!({"name": "archiveSalesOrder", "description": "nightly archive",
                "action": "http://127.0.0.1:9/archive", "active": false, "httpMethod": "POST",
                "schedules": [{"repeatAt": "18.40", "active": true,
                    "description": "daily archive"}]}),
        )
        .await;
    let invoices = c
        .create_job(
            token,
            json!({"name": "sendInvoices", "description": "invoice mailer",
                "action": "http://127.0.0.1:9/invoices", "active": true, "httpMethod": "POST",
                "startTime": "2028-06-01T00:00:00Z",
                "schedules": [{"repeatInterval": "2 days", "active": false,
                    "description": "daily invoices"}]}),
        )
        .await;
    c.create_job(
        other,
        json!({"name": "salesOrderOther", "description": "sales order daily",
            "action": "http://127.0.0.1:9/other", "active": true, "httpMethod": "POST",
            "startTime": "2027-03-01T00:00:00Z",
            "schedules": [{"repeatInterval": "1 hour", "active": true,
                "description": "daily other"}]}),
    )
    .await;
    [validate.id, archive.id, invoices.id]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_jobs_by_text_qualifiers_and_pages() {
    let mut env = TestEnv::new();
    env.start_api().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let (_, other) = env.tenant(&["read", "write"]).await;
    let [validate, ..] = seed(&env, &token, &other).await;
    let search = |params: Vec<(&'static str, &'static str)>| {
        let p = path("/scheduler/search/jobs", &params);
        let (env, token) = (&env, token.clone());
        async move { env.call("GET", &p, &token, None).await }
    };

    // Free text over name and description, case-insensitive; SAP's renamed fields.
    let (st, body) = search(vec![("q", "salesOrder")]).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["total"], 2);
    assert_eq!(names(&body), ["validateSalesOrder", "archiveSalesOrder"]);
    assert_eq!(
        (
            &body["pagination_enabled"],
            &body["prev_url"],
            &body["next_url"]
        ),
        (&json!(false), &Value::Null, &Value::Null)
    );
    let job = &body["results"][0];
    assert_eq!(job["_id"], validate);
    assert_eq!(job["jobActive"], true);
    assert_eq!(job["jobStartTime"], "2027-03-01T00:00:00.000Z");
    assert_eq!(job["jobEndTime"], "2027-11-30T00:00:00.000Z");
    assert_eq!(job["httpMethod"], "PUT");
    assert_eq!(job["signatureVersion"], 0);
    assert!(job.get("user").is_some_and(Value::is_null), "{job}");
    for renamed in ["active", "startTime", "endTime"] {
        assert!(job.get(renamed).is_none(), "{renamed} in {job}");
    }
    let sc = &job["schedules"][0];
    assert_eq!(
        sc["scheduleDescription"],
        "this schedule runs every 10 minutes"
    );
    assert_eq!(sc["data"], "{\"salesOrderId\":\"1234\"}");
    assert_eq!(sc["type"], "recurring");
    assert_eq!(sc["cron"], "* * * * * */10 0");
    assert_eq!(
        (&sc["repeatInterval"], &sc["repeatAt"], &sc["time"]),
        (&Value::Null, &Value::Null, &Value::Null)
    );
    assert!(sc["nextRunAt"].is_string(), "{sc}");
    assert!(sc.get("description").is_none(), "{sc}");

    // Qualifiers, and-ed with the text.
    let (_, body) = search(vec![("q", "salesOrder active:true")]).await;
    assert_eq!(names(&body), ["validateSalesOrder"]);
    let (_, body) = search(vec![("q", "active:false")]).await;
    assert_eq!(names(&body), ["archiveSalesOrder"]);
    let (_, body) = search(vec![("q", "startTime:>2027-01-01 endTime:<2027-12-31")]).await;
    assert_eq!(names(&body), ["validateSalesOrder"]);
    let (_, body) = search(vec![("q", "startTime:>=2027-03-01T00:00:00")]).await;
    assert_eq!(names(&body), ["validateSalesOrder", "sendInvoices"]);
    let (_, body) = search(vec![("q", "startTime:<2027-03-01")]).await;
    assert_eq!(body["total"], 0);
    // A quoted phrase.
    let (_, body) = search(vec![("q", "\"sales order\"")]).await;
    assert_eq!(names(&body), ["validateSalesOrder"]);

    // Paging: SAP's envelope and links, which keep q.
    let (_, body) = search(vec![("q", "s"), ("page_size", "2")]).await;
    assert_eq!(body["total"], 3);
    assert_eq!(names(&body), ["validateSalesOrder", "archiveSalesOrder"]);
    assert_eq!(body["pagination_enabled"], true);
    assert_eq!(body["prev_url"], Value::Null);
    assert_eq!(
        body["next_url"],
        "/scheduler/search/jobs?q=s&page_size=2&offset=2"
    );
    let (st, body) = env
        .call("GET", body["next_url"].as_str().unwrap(), &token, None)
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(names(&body), ["sendInvoices"]);
    assert_eq!(body["next_url"], Value::Null);
    assert_eq!(
        body["prev_url"],
        "/scheduler/search/jobs?q=s&page_size=2&offset=0"
    );
    let (_, body) = search(vec![("q", "s"), ("offset", "1")]).await;
    assert_eq!((body["total"].as_u64(), names(&body).len()), (Some(3), 2));
    assert_eq!(body["pagination_enabled"], true);

    // displaySchedules=false: no schedules, and the links keep it.
    let (_, body) = search(vec![
        ("q", "s"),
        ("page_size", "1"),
        ("displaySchedules", "false"),
    ])
    .await;
    assert!(body["results"][0].get("schedules").is_none(), "{body}");
    assert_eq!(
        body["next_url"],
        "/scheduler/search/jobs?q=s&page_size=1&offset=1&displaySchedules=false"
    );

    // The other tenant sees its own job only, and this tenant never sees it.
    let (_, body) = env
        .call("GET", "/scheduler/search/jobs?q=salesOrder", &other, None)
        .await;
    assert_eq!(names(&body), ["salesOrderOther"]);
    let (_, body) = search(vec![("q", "daily")]).await;
    assert_eq!(body["total"], 0, "{body}");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_errors_are_sap_400s_naming_the_parameter() {
    let mut env = TestEnv::new();
    env.start_api().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let (_, writer) = env.tenant(&["write"]).await;
    let sap = "Error in Job Scheduler action: ";
    for route in ["/scheduler/search/jobs", "/scheduler/search/schedules"] {
        for (params, start) in [
            (vec![], "Search query not provided"),
            (vec![("q", "")], "Search query not provided"),
            (vec![("q", "   ")], "Search query not provided"),
            (vec![("q", "owner:me")], "Field not recognized"),
            (
                vec![("q", "x active:maybe")],
                "active must be true or false",
            ),
            (
                vec![("q", "startTime:2025-01-01")],
                "Operator not specified for startTime",
            ),
            (
                vec![("q", "endTime:=2025-01-01")],
                "Operator not specified for endTime",
            ),
            (
                vec![("q", "startTime:>2025-1-1")],
                "Date format must be YYYY-MM-DDTHH:mm:ss or YYYY-MM-DD",
            ),
            (vec![("q", "\"open")], "Unterminated quote in q"),
            (vec![("q", "x"), ("page_size", "0")], "'page_size'"),
            (vec![("q", "x"), ("page_size", "ten")], "'page_size'"),
            (vec![("q", "x"), ("offset", "-1")], "'offset'"),
        ] {
            let (st, body) = env.call("GET", &path(route, &params), &token, None).await;
            bad_request(st, &body, &format!("{sap}{start}"));
        }
    }
    let (st, body) = env
        .call(
            "GET",
            "/scheduler/search/jobs?q=x&displaySchedules=maybe",
            &token,
            None,
        )
        .await;
    bad_request(st, &body, &format!("{sap}'displaySchedules'"));
    let (st, body) = env
        .call(
            "GET",
            "/scheduler/search/schedules?q=x&displaySchedules=true",
            &token,
            None,
        )
        .await;
    assert_eq!(
        body["message"],
        format!("{sap}displaySchedules is not supported")
    );
    bad_request(st, &body, sap);

    // Searching needs the read scope.
    for route in [
        "/scheduler/search/jobs?q=x",
        "/scheduler/search/schedules?q=x",
    ] {
        let (st, body) = env.call("GET", route, &writer, None).await;
        assert_eq!(st, 403, "{body}");
    }
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_schedules_with_their_parent() {
    let mut env = TestEnv::new();
    env.start_api().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let (_, other) = env.tenant(&["read", "write"]).await;
    let [validate, archive, invoices] = seed(&env, &token, &other).await;
    let search = |params: Vec<(&'static str, &'static str)>| {
        let p = path("/scheduler/search/schedules", &params);
        let (env, token) = (&env, token.clone());
        async move { env.call("GET", &p, &token, None).await }
    };
    let parents = |body: &Value| -> Vec<u64> {
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["parent"]["_id"].as_u64().unwrap())
            .collect()
    };

    // Free text over the schedule's description (the other tenant's "daily other" never).
    let (st, body) = search(vec![("q", "daily")]).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["total"], 2);
    assert_eq!(parents(&body), [archive, invoices]);
    let r = &body["results"][0];
    assert_eq!(r["scheduleDescription"], "daily archive");
    assert_eq!(r["repeatAt"], "18.40");
    assert_eq!(r["type"], "recurring");
    assert_eq!(r["active"], true);
    assert_eq!(
        r["parent"],
        json!({"_id": archive, "name": "archiveSalesOrder",
            "jobUrl": format!("/scheduler/jobs/{archive}")})
    );
    assert_eq!(body["pagination_enabled"], false);

    // `active` is the schedule's: the inactive job's active schedule is found.
    let (_, body) = search(vec![("q", "daily active:true")]).await;
    assert_eq!(parents(&body), [archive]);
    let (_, body) = search(vec![("q", "daily active:false")]).await;
    assert_eq!(parents(&body), [invoices]);
    // The job's name finds its schedules; the schedule's own startTime is compared.
    let (_, body) = search(vec![("q", "validateSalesOrder")]).await;
    assert_eq!(parents(&body), [validate]);
    assert_eq!(body["results"][0]["data"], "{\"salesOrderId\":\"1234\"}");
    let (_, body) = search(vec![("q", "startTime:>=2027-01-01")]).await;
    assert_eq!(parents(&body), [validate]);

    // Paging.
    let (_, body) = search(vec![("q", "a"), ("page_size", "2"), ("offset", "1")]).await;
    assert_eq!(body["total"], 3, "{body}");
    assert_eq!(parents(&body), [archive, invoices]);
    assert_eq!(
        (&body["prev_url"], &body["next_url"]),
        (
            &json!("/scheduler/search/schedules?q=a&page_size=2&offset=0"),
            &Value::Null
        )
    );

    // The other tenant's search finds only its schedule.
    let (_, body) = env
        .call("GET", "/scheduler/search/schedules?q=daily", &other, None)
        .await;
    assert_eq!(body["total"], 1);
    assert_eq!(body["results"][0]["parent"]["name"], "salesOrderOther");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_list_filters_sorts_and_counts_schedules() {
    let mut env = TestEnv::new();
    env.start_api().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let (_, other) = env.tenant(&["read", "write"]).await;
    let c = env.client();
    let job = |name: &str, schedules: Value| {
        json!({"name": name, "description": "d", "action": "http://127.0.0.1:9/x",
            "active": true, "httpMethod": "POST", "schedules": schedules})
    };
    let cron = |active: bool| json!({"cron": "* * * * * */10 0", "active": active});
    c.create_job(&token, job("my_job", json!([cron(true), cron(false)])))
        .await;
    c.create_job(&token, job("other", json!([cron(false)])))
        .await;
    c.create_job(&token, job("my_test", json!([]))).await;
    c.create_job(&other, job("my_job", json!([cron(true)])))
        .await;
    let list = |params: Vec<(&str, &str)>| {
        let p = path("/scheduler/jobs", &params);
        let (env, token) = (&env, token.clone());
        async move { env.call("GET", &p, &token, None).await }
    };

    // The plain list, with SAP's schedule counts.
    let (st, body) = list(vec![]).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(names(&body), ["my_job", "other", "my_test"]);
    let counts: Vec<(u64, u64)> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["ACTIVECOUNT"].as_u64().unwrap(),
                j["INACTIVECOUNT"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts, [(1, 1), (0, 1), (0, 0)]);
    // SAP's list example shows the id twice, as `_id` and `jobId`.
    for j in body["results"].as_array().unwrap() {
        assert_eq!(j["jobId"], j["_id"], "{j}");
        assert!(j["jobId"].is_u64(), "{j}");
    }
    // `name` and `jobId` together name one job: both must match it.
    let first_id = body["results"][0]["_id"].as_u64().unwrap();
    let id = first_id.to_string();
    let (st, one) = list(vec![("name", "my_job"), ("jobId", &id)]).await;
    assert_eq!((st, &one["name"]), (200, &json!("my_job")), "{one}");
    let other_id = (first_id + 1).to_string();
    let (st, _) = list(vec![("name", "my_job"), ("jobId", &other_id)]).await;
    assert_eq!(st, 404);
    let (_, body) = list(vec![("displaySchedules", "true"), ("page_size", "1")]).await;
    let first = &body["results"][0];
    assert_eq!(first["schedules"].as_array().unwrap().len(), 2);
    assert_eq!(
        (&first["ACTIVECOUNT"], &first["INACTIVECOUNT"]),
        (&json!(1), &json!(1))
    );

    // SAP's filter: eq, contains, and over or.
    let tenant_eq = format!("tenantId eq '{tenant}'");
    for (filter, want) in [
        ("name eq 'my_job'", vec!["my_job"]),
        ("contains(name, 'my_')", vec!["my_job", "my_test"]),
        (
            "contains(name,'my_') and name eq 'my_test' or name eq 'other'",
            vec!["other", "my_test"],
        ),
        (tenant_eq.as_str(), vec!["my_job", "other", "my_test"]),
        ("tenantId eq 'e2c896e9-243b-4047-bf90-d4483f537786'", vec![]),
        ("contains(subDomain, 'my')", vec![]),
    ] {
        let (st, body) = list(vec![("filter", filter)]).await;
        assert_eq!(st, 200, "{filter}: {body}");
        assert_eq!(names(&body), want, "{filter}");
        assert_eq!(body["total"], want.len(), "{filter}");
    }
    // The filter's page: SAP's links keep only page_size and offset.
    let (_, body) = list(vec![
        ("filter", "contains(name, 'my_')"),
        ("page_size", "1"),
        ("offset", "1"),
    ])
    .await;
    assert_eq!(
        (body["total"].as_u64(), names(&body)),
        (Some(2), vec!["my_test"])
    );
    assert_eq!(body["prev_url"], "/scheduler/jobs?page_size=1&offset=0");
    assert_eq!(body["next_url"], Value::Null);

    // Sorting.
    let (_, body) = list(vec![("sort_by", "name"), ("sort_order", "DESC")]).await;
    assert_eq!(names(&body), ["other", "my_test", "my_job"]);
    let (_, body) = list(vec![("sort_by", "name"), ("sort_order", "ASC")]).await;
    assert_eq!(names(&body), ["my_job", "my_test", "other"]);
    let (_, body) = list(vec![("sort_order", "desc")]).await;
    assert_eq!(names(&body), ["my_test", "other", "my_job"]);

    // jobType, and tenantId (the key's tenant is the list, whatever it says).
    let (_, body) = list(vec![("jobType", "HTTP_ENDPOINT")]).await;
    assert_eq!(body["total"], 3);
    let (_, body) = list(vec![("jobType", "CF_TASK")]).await;
    assert_eq!((body["total"].as_u64(), names(&body).len()), (Some(0), 0));
    let (_, body) = list(vec![("tenantId", "8a324eec-94f1-43ae-b24a-0430aa157e14")]).await;
    assert_eq!(body["total"], 3);

    // Bad parameters: 400s naming them.
    let ctx = "Error while fetching list of jobs: ";
    for (params, start) in [
        (vec![("jobType", "BATCH")], "'jobType'"),
        (vec![("sort_by", "owner")], "'sort_by'"),
        (vec![("sort_order", "up")], "'sort_order'"),
        (vec![("filter", "name eq my_job")], "'filter'"),
        (vec![("filter", "owner eq 'x'")], "'filter'"),
        (vec![("filter", "")], "'filter'"),
        (vec![("filter", "NAME eq 'my_job'")], "'filter'"),
    ] {
        let (st, body) = list(params).await;
        bad_request(st, &body, &format!("{ctx}{start}"));
    }

    // The other tenant's list holds only its job.
    let (_, body) = env
        .call(
            "GET",
            &path("/scheduler/jobs", &[("filter", "contains(name, 'my_')")]),
            &other,
            None,
        )
        .await;
    assert_eq!(body["total"], 1);
    env.cleanup().await;
}
