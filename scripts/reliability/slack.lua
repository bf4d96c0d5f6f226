-- wrk script of the Slack scenario: chats with the right key, and one
-- request in ten with a wrong key from a new X-Forwarded-For address, so
-- each raises an authentication alert that no earlier one folds.
-- Arguments: KEY.

local n = 0
local id = 0

function setup(thread)
    thread:set("id", id)
    id = id + 1
end

function init(args)
    key = args[1]
    me = tonumber(wrk.thread:get("id"))
    body = '{"message":"What should I do next?","user_id":"u1",' ..
        '"surface_id":"slack"}'
end

function request()
    n = n + 1
    local headers = { ["Content-Type"] = "application/json" }
    if n % 10 == 0 then
        headers["X-Api-Key"] = "wrong"
        headers["X-Forwarded-For"] = string.format("10.%d.%d.%d", me,
            math.floor(n / 256) % 256, n % 256)
    else
        headers["X-Api-Key"] = key
    end
    return wrk.format("POST", "/api/maestra/chat", headers, body)
end

function done(summary, latency, requests)
    for _, p in ipairs({50, 99, 99.9}) do
        io.write(string.format("latency p%g: %.2f ms\n", p,
            latency:percentile(p) / 1000))
    end
end
