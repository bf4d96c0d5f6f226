-- wrk script of the load scenario: POST chats whose X-Forwarded-For,
-- user_id and conversation_id cycle through N client IPs, so each IP
-- gets exactly TOTAL/N requests. Once a thread has sent its share it asks
-- only GET /health (not counted, not limited) until its answers are in,
-- then stops. Arguments: TOTAL N THREADS (THREADS as given to -t).

local next_id = 0

function setup(thread)
    thread:set("index", next_id)
    next_id = next_id + 1
end

function init(args)
    total = tonumber(args[1])
    ips = tonumber(args[2])
    nthreads = tonumber(args[3])
    index = tonumber(wrk.thread:get("index"))
    quota = math.floor(total / nthreads)
    if index < total % nthreads then
        quota = quota + 1
    end
    sent = 0
    answered = 0
    health = wrk.format("GET", "/health")
    -- wrk calls request() once on the first thread to check the script
    -- before any connection; that call must not use up an index.
    checking = index == 0
end

function request()
    if checking then
        checking = false
        return health
    end
    if sent >= quota then
        return health
    end
    local i = index + sent * nthreads
    sent = sent + 1
    local n = i % ips
    local ip = string.format("10.%d.%d.%d",
        math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
    local body = string.format(
        '{"message":"load test message %d","user_id":"u%d",' ..
        '"surface_id":"load","conversation_id":"conv_load_%d"}', i, n, n)
    return wrk.format("POST", "/api/maestra/chat", {
        ["Content-Type"] = "application/json",
        ["X-Forwarded-For"] = ip,
    }, body)
end

function response(status, headers, body)
    -- Chat answers carry "reply" (200) or "error" (429 and others).
    if body:find('"reply"', 1, true) or body:find('"error"', 1, true) then
        answered = answered + 1
    end
    if answered >= quota then
        wrk.thread:stop()
    end
end

function done(summary, latency, requests)
    for _, p in ipairs({50, 90, 99, 99.9}) do
        io.write(string.format("latency p%g: %.2f ms\n", p,
            latency:percentile(p) / 1000))
    end
end
