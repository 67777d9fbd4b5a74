// Drives @sap/jobs-client, SAP's own Node.js client, against a chime API: creates a job,
// reads it back, counts the jobs, searches its jobs and schedules, and lists its jobs by
// SAP's filter. Authentication, by the first argument:
//   token  the client's `token` option: an access token the caller fetched (TOKEN)
//   vcap   the client's own OAuth flow: VCAP_SERVICES names chime as the jobscheduler service
//          and its UAA, so the client fetches its token from chime's /oauth/token itself
// Prints one JSON line: {"created": …, "fetched": …, "count": …, "searched": …,
// "searchedSchedules": …, "listed": …} or {"error": "…"}.
'use strict';
const { Scheduler } = require('@sap/jobs-client');

const mode = process.argv[2];
const url = process.env.CHIME_URL;
const options = mode === 'token' ? { baseURL: url, token: process.env.TOKEN } : {};
const scheduler = new Scheduler(options);
const call = (method, args) => new Promise((resolve, reject) =>
  scheduler[method](args, (err, body) => (err ? reject(err) : resolve(body))));

(async () => {
  const job = {
    name: process.env.JOB_NAME,
    action: 'http://127.0.0.1:9/none',
    active: false,
    httpMethod: 'GET',
    schedules: [{ cron: '* * * * * */10 0', active: false, description: 'by the SAP client' }],
  };
  const created = await call('createJob', { job });
  const fetched = await call('fetchJob', { jobId: created._id });
  const count = await call('getJobCount', { activeStatus: false });
  const searched = await call('searchJobs', { q: `${job.name} active:false`, page_size: 5 });
  const searchedSchedules = await call('searchSchedules', { q: '"by the SAP client"' });
  const listed = await call('fetchJobs', {
    page_size: 5, filter: `name eq '${job.name}'`, sort_by: 'name', sort_order: 'ASC',
  });
  console.log(JSON.stringify({ created, fetched, count, searched, searchedSchedules, listed }));
})().catch((e) => console.log(JSON.stringify({ error: String(e && e.message || e) })));
