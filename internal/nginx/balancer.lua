-- scaler's load balancer, run by nginx's lua module (balancer_by_lua). The
-- members live in a shared dict, so that scalerd changes them without a
-- reload: a reload restarts the workers, and the old ones close their idle
-- keep-alive connections under clients that are sending on them.
--
-- Only scalerd writes the members: it writes the peers file inside the
-- container, then asks nginx, on a listener bound to 127.0.0.1 in the
-- container's own network namespace, to read it again (reload_peers). The
-- master reads the same file on every start and reload (init), so a
-- restarted container or a reloaded config serves the same members.
--
-- Per request a worker reads one version number from the dict; it decodes
-- the list again only when that number changed. What nginx's own upstream
-- did is done here: the algorithm, passive health (max_fails within
-- fail_timeout), retries on the next peer (nginx itself refuses to retry a
-- non-idempotent request once it was sent), and a count of the requests in
-- flight per address, which least_conn uses and the drain before a replica
-- stops waits on.

local balancer = require "ngx.balancer"

local M = {}

local dict = ngx.shared.scaler_balancer
local conf = { ["algorithm"] = "round_robin", max_fails = 1, fail_timeout = 10, tries = 3, peers_path = "", config_path = "", empty_port = 0 }

-- The config the master loaded when it ran init, inherited by every worker
-- it forked: what nginx really runs, which the file may no longer be (an
-- edit by hand, a reload that did not take). verify reports it.
local loaded_config = ""

-- Per worker: the decoded members and the version they were decoded at.
local peers, peers_version = {}, -1
local rr = 0

-- Per worker, so that picking a peer seldom reads shared memory (a read of
-- the dict per member per request cost a quarter more CPU than nginx's
-- own upstream): the requests this worker has in flight per address,
-- exact; the other workers' count, read from the dict at most every
-- others_refresh seconds; and which addresses are marked down, read at
-- most every down_refresh seconds (this worker's own marks at once). The
-- dict holds the counts over all workers, which least_conn and inflight
-- (the drain) use.
local active = {}
local others, others_read = {}, 0
local others_refresh = 0.02
local is_down, down_read = {}, 0
local down_refresh = 0.1

-- parse reads the peers file: "NAME ADDRESS" a line, "#" lines are
-- comments. It returns the list or nil and what is wrong.
local function parse(text)
    local list = {}
    for line in string.gmatch(text, "[^\n]+") do
        if string.sub(line, 1, 1) ~= "#" then
            local name, addr = string.match(line, "^(%S+) (%S+)$")
            if not name then
                return nil, "bad peers line: " .. line
            end
            local host, port = string.match(addr, "^%[(.+)%]:(%d+)$")
            if not host then
                host, port = string.match(addr, "^([^:]+):(%d+)$")
            end
            if not host then
                return nil, "bad peer address: " .. addr
            end
            -- The dict keys of the address, built once here rather than on
            -- every request.
            list[#list + 1] = { name = name, addr = addr, host = host, port = tonumber(port),
                c = "c:" .. addr, f = "f:" .. addr, d = "d:" .. addr }
        end
    end
    return list
end

-- refresh decodes the members again when the dict holds a newer list.
local function refresh()
    local v = dict:get("version") or 0
    if v ~= peers_version then
        local list = parse(dict:get("peers") or "")
        -- A list that does not parse never reaches the dict (store checks
        -- it), so this keeps the previous one only in theory.
        if list then
            peers = list
        end
        peers_version = v
        down_read = 0 -- joiners start with no failures (store)
        -- Forget the addresses that left and have nothing in flight from
        -- this worker, so that the tables do not grow with every address
        -- Docker ever handed out.
        local members = {}
        for i = 1, #peers do
            members[peers[i].addr] = true
        end
        for addr, n in pairs(active) do
            if n <= 0 and not members[addr] then
                active[addr] = nil
            end
        end
        others, others_read = {}, 0
    end
end

-- store puts a peers file's text into the dict, for every worker. An
-- address that joins starts with no failures: scalerd adds only replicas
-- that passed their health check, and Docker gives a new replica the
-- address of one that just died, whose failures would otherwise keep the
-- new one out for fail_timeout.
local function store(text)
    local list, err = parse(text)
    if not list then
        return nil, err
    end
    local before = {}
    for _, p in ipairs(parse(dict:get("peers") or "") or {}) do
        before[p.addr] = true
    end
    local members = {}
    for _, p in ipairs(list) do
        members[p.addr] = true
        if not before[p.addr] then
            dict:delete("f:" .. p.addr)
            dict:delete("d:" .. p.addr)
        end
    end
    -- The in-flight counts of addresses that are no longer members and
    -- have nothing in flight go: Docker hands out addresses in turn, so
    -- over a long churn the counts of past replicas would fill the dict,
    -- and a full dict evicts its least recently used keys, "peers" among
    -- them.
    for _, k in ipairs(dict:get_keys(0)) do
        if string.sub(k, 1, 2) == "c:" and not members[string.sub(k, 3)] and (dict:get(k) or 0) <= 0 then
            dict:delete(k)
        end
    end
    local ok, serr = dict:set("peers", text)
    if not ok then
        return nil, "storing the peers: " .. tostring(serr)
    end
    local v, ierr = dict:incr("version", 1, 0)
    if not v then
        return nil, "bumping the peers version: " .. tostring(ierr)
    end
    return #list, v
end

local function read_file(path)
    local f = io.open(path, "r")
    if not f then
        return "" -- no file yet: no members
    end
    local text = f:read("*a")
    f:close()
    return text or ""
end

-- init_worker seeds random per worker, so that workers do not pick alike.
function M.init_worker()
    math.randomseed(ngx.now() * 1000 + ngx.worker.pid())
end

function M.configure(c)
    for k, v in pairs(c) do
        conf[k] = v
    end
end

-- init runs in the master (init_by_lua) on start and on every reload.
function M.init()
    loaded_config = read_file(conf.config_path)
    local n, err = store(read_file(conf.peers_path))
    if not n then
        ngx.log(ngx.ERR, "scaler: ", err, "; the load balancer starts with no members")
        store("")
    end
end

-- reload_peers answers scalerd's request to read the peers file again.
function M.reload_peers()
    local n, v = store(read_file(conf.peers_path))
    if not n then
        ngx.status = 500
        ngx.say("error ", v)
        return ngx.exit(500)
    end
    ngx.say("ok ", n, " peers, version ", v)
end

-- inflight answers how many requests are still in flight to addresses
-- that are no longer members: a removed replica may stop once it is 0.
function M.inflight()
    refresh()
    local members = {}
    for i = 1, #peers do
        members[peers[i].addr] = true
    end
    local total = 0
    local keys = dict:get_keys(0)
    for i = 1, #keys do
        local k = keys[i]
        if string.sub(k, 1, 2) == "c:" and not members[string.sub(k, 3)] then
            local n = dict:get(k) or 0
            if n > 0 then
                total = total + n
            end
        end
    end
    ngx.say(total)
end

-- connects opens a TCP connection to one member from the load balancer,
-- the first thing nginx does with it, and returns "ok" or why not (one
-- word: verify's answer is one line of words).
local function connects(p)
    local sock = ngx.socket.tcp()
    sock:settimeout(1000)
    local ok, err = sock:connect(p.host, p.port)
    if not ok then
        return (string.gsub(tostring(err), "%s+", "_"))
    end
    sock:close()
    return "ok"
end

-- verify answers scalerd's check that nginx runs what it was told
-- (UpstreamInSync), on one line: the MD5 of the config loaded, of the
-- config file and of the peers file, the members the workers use, and
-- whether each accepts a connection from here:
--
--   config=MD5 file=MD5 peersfile=MD5 members=NAME@ADDR,... connect=NAME:ok|ERROR,... counts=N
--
-- counts is how many addresses have an in-flight count in the dict, which
-- store keeps to the members and those with requests still in flight.
function M.verify()
    refresh()
    local threads = {}
    for i = 1, #peers do
        threads[i] = ngx.thread.spawn(connects, peers[i])
    end
    local members, connect = {}, {}
    for i = 1, #peers do
        local ok, res = ngx.thread.wait(threads[i])
        members[i] = peers[i].name .. "@" .. peers[i].addr
        connect[i] = peers[i].name .. ":" .. (ok and res or "error")
    end
    local counts = 0
    for _, k in ipairs(dict:get_keys(0)) do
        if string.sub(k, 1, 2) == "c:" then
            counts = counts + 1
        end
    end
    ngx.say("config=", ngx.md5(loaded_config), " file=", ngx.md5(read_file(conf.config_path)),
        " peersfile=", ngx.md5(read_file(conf.peers_path)),
        " members=", table.concat(members, ","), " connect=", table.concat(connect, ","), " counts=", counts)
end

local function down(p)
    if conf.max_fails <= 0 then
        return false
    end
    local now = ngx.now()
    if now - down_read >= down_refresh then
        down_read = now
        is_down = {}
        for i = 1, #peers do
            local q = peers[i]
            if dict:get(q.d) then
                is_down[q.addr] = true
            end
        end
    end
    return is_down[p.addr]
end

-- record_failure counts a failed attempt at peer p; max_fails of them
-- within fail_timeout take the address out for fail_timeout.
local function record_failure(p)
    if conf.max_fails <= 0 then
        return
    end
    local n = dict:incr(p.f, 1, 0, conf.fail_timeout)
    if n and n >= conf.max_fails then
        dict:set(p.d, true, conf.fail_timeout)
        dict:delete(p.f)
        is_down[p.addr] = true
    end
end

-- scan returns the first usable peer from index start on, wrapping;
-- healthy ones first, then any not tried yet (as nginx does with a single
-- server, a member marked down is better than none).
local function scan(start, tried)
    local n = #peers
    local fallback
    for i = 0, n - 1 do
        local p = peers[(start + i - 1) % n + 1]
        if not tried or not tried[p.addr] then
            if not down(p) then
                return p
            end
            fallback = fallback or p
        end
    end
    return fallback
end

-- load is the requests in flight to p over all workers: this worker's
-- own count, exact, plus the others' as last read.
local function load(p)
    local now = ngx.now()
    if now - others_read >= others_refresh then
        others_read = now
        for i = 1, #peers do
            local q = peers[i]
            others[q.addr] = (dict:get(q.c) or 0) - (active[q.addr] or 0)
        end
    end
    return (others[p.addr] or 0) + (active[p.addr] or 0)
end

local function least_conn(tried)
    local n = #peers
    rr = rr + 1
    local best, best_n, fallback
    for i = 0, n - 1 do
        local p = peers[(rr + i - 1) % n + 1]
        if not tried or not tried[p.addr] then
            if down(p) then
                fallback = fallback or p
            else
                local c = load(p)
                if not best or c < best_n then
                    best, best_n = p, c
                end
            end
        end
    end
    return best or fallback
end

local function hash_key()
    local addr = ngx.var.remote_addr or ""
    -- nginx's ip_hash uses the first three octets of an IPv4 address.
    local net = string.match(addr, "^(%d+%.%d+%.%d+)%.%d+$")
    return ngx.crc32_short(net or addr)
end

local function pick(tried)
    local n = #peers
    local alg = conf.algorithm
    if alg == "least_conn" then
        return least_conn(tried)
    elseif alg == "ip_hash" then
        return scan(hash_key() % n + 1, tried)
    elseif alg == "random" then
        return scan(math.random(n), tried)
    end
    rr = rr % n + 1
    return scan(rr, tried)
end

-- balance picks the peer of one attempt (balancer_by_lua). With no
-- members it sends the request to the load balancer's own empty_port,
-- whose server answers 503 with the reason: a check per request in an
-- earlier phase (access_by_lua) cost a Lua coroutine on every request.
function M.balance()
    refresh()
    local ctx = ngx.ctx
    local prev = ctx.scaler_peer
    local tried = ctx.scaler_tried
    if prev then
        -- A retry: the previous attempt failed or got a status that
        -- proxy_next_upstream retries.
        dict:incr(prev.c, -1, 0)
        active[prev.addr] = (active[prev.addr] or 1) - 1
        local state = balancer.get_last_failure()
        if state == "failed" then
            record_failure(prev)
        end
        if not tried then
            tried = {}
            ctx.scaler_tried = tried
        end
        tried[prev.addr] = true
        ctx.scaler_peer = nil
    elseif #peers > 1 and conf.tries > 1 then
        -- As nginx's upstream: one try per member, at most tries.
        local more = #peers < conf.tries and #peers or conf.tries
        balancer.set_more_tries(more - 1)
    end
    local p = #peers > 0 and pick(tried)
    if not p then
        if prev then
            return ngx.exit(502) -- every member tried
        end
        local ok, err = balancer.set_current_peer("127.0.0.1", conf.empty_port)
        if not ok then
            ngx.log(ngx.ERR, "scaler: set_current_peer to the empty answer: ", err)
            return ngx.exit(503)
        end
        return
    end
    local ok, err = balancer.set_current_peer(p.host, p.port)
    if not ok then
        ngx.log(ngx.ERR, "scaler: set_current_peer ", p.addr, ": ", err)
        return ngx.exit(500)
    end
    dict:incr(p.c, 1, 0)
    active[p.addr] = (active[p.addr] or 0) + 1
    ctx.scaler_peer = p
end

-- log ends the request's count and records a failed last attempt, which no
-- later balance call saw (log_by_lua).
function M.log()
    local p = ngx.ctx.scaler_peer
    if not p then
        return
    end
    dict:incr(p.c, -1, 0)
    active[p.addr] = (active[p.addr] or 1) - 1
    if conf.max_fails > 0 and ngx.status >= 502 and ngx.status <= 504 then
        local us = ngx.var.upstream_status or ""
        local last = tonumber(string.match(us, "(%d+)%s*$"))
        if last and last >= 502 and last <= 504 then
            record_failure(p)
        end
    end
end

return M
