"""Lua scripts of the redis backend: each runs atomically inside Redis.

A bin's scripts take its ``[meta, log, channel]`` (``RedisKeys.of``), one hash slot, so they
run on Redis Cluster too; CAPTURE takes an address bucket as a fourth key on a single Redis
only. Publishing is ``SPUBLISH`` (sharded pub/sub, Redis 7). Rate buckets are GCRA, as in
``_rates`` (times in milliseconds of Redis's own clock, ``TIME``, shared by every process).
"""

from __future__ import annotations

__all__ = [
    "ADDRESS",
    "CAPTURE",
    "CLEAR",
    "CREATE",
    "CURSOR",
    "DELETE",
    "READ",
    "RESERVE",
    "TAIL",
    "UPDATE",
]

# Shared Lua: the clock, and one GCRA step. A bucket admits a request when it is not early;
# a refusal returns how many ms early it is and changes nothing.
_RATE = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
local function gcra(stored, now, interval, burst)
  local tat = math.max(tonumber(stored or 0) or 0, now) + interval
  return tat, tat - burst * interval - now
end
local function fmt(x) return string.format('%.3f', x) end
"""

# ARGV: ttl in ms, then field, value, field, value... (A script rather than MULTI/EXEC: on a
# cluster, a MOVED reply to one command is followed, to a transaction it is not.)
CREATE = """
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""

# KEYS: meta, log, channel[, address bucket]. ARGV: payload (wire JSON without id, starts with
# '{'), the bin's interval (ms; 0: no limit) and burst, the address's interval and burst.
# Returns false for an unknown bin, {'bin' or 'address', ms early} for a refusal (nothing
# written), else {id, response json}. Both buckets are checked before either is spent.
CAPTURE = (
    _RATE
    + """
local meta = redis.call('HMGET', KEYS[1], 'response', 'max_requests', 'ttl_s', 'rl')
if not meta[2] then return false end
local now, bin_tat, address_tat
local bin_interval, address_interval = tonumber(ARGV[2]), tonumber(ARGV[4])
if bin_interval > 0 then
  now = now_ms()
  local early
  bin_tat, early = gcra(meta[4], now, bin_interval, tonumber(ARGV[3]))
  if early > 0 then return {'bin', fmt(early)} end
end
if KEYS[4] and address_interval > 0 then
  now = now or now_ms()
  local early
  address_tat, early = gcra(redis.call('GET', KEYS[4]), now, address_interval, tonumber(ARGV[5]))
  if early > 0 then return {'address', fmt(early)} end
end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '=', meta[2], '*', 'r', ARGV[1])
redis.call('SPUBLISH', KEYS[3], '{"id":"' .. id .. '",' .. string.sub(ARGV[1], 2))
if bin_tat then redis.call('HSET', KEYS[1], 'rl', fmt(bin_tat)) end
if address_tat then
  redis.call('SET', KEYS[4], fmt(address_tat), 'PX', math.ceil(address_tat - now) + 1000)
end
local ttl_ms = string.format('%d', math.floor(tonumber(meta[3]) * 1000))
redis.call('PEXPIRE', KEYS[1], ttl_ms)
redis.call('PEXPIRE', KEYS[2], ttl_ms)
return {id, meta[1]}
"""
)

# KEYS: an address bucket. ARGV: interval (ms), burst, mode. Mode 'take': spend a token if
# one is there (bin creation); mode 'debit' (ARGV[4]: a count): spend that many whatever
# the bucket holds (captures already stored, on a cluster). Returns the ms until the next
# request would pass ('0' or less: now; for 'take', more than 0 means refused).
ADDRESS = (
    _RATE
    + """
local now = now_ms()
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
if ARGV[3] == 'take' then
  local tat, early = gcra(redis.call('GET', KEYS[1]), now, interval, burst)
  if early > 0 then return fmt(early) end
  redis.call('SET', KEYS[1], fmt(tat), 'PX', math.ceil(tat - now) + 1000)
  return '0'
end
local stored = tonumber(redis.call('GET', KEYS[1]) or 0) or 0
local tat = math.max(stored, now) + tonumber(ARGV[4]) * interval
redis.call('SET', KEYS[1], fmt(tat), 'PX', math.ceil(tat - now) + 1000)
return fmt(tat + interval - burst * interval - now)
"""
)

# KEYS: the bins index (a sorted set: bin id -> expiry in ms). ARGV: the most bins (0: no
# limit), the new bin's id and expiry. Returns 1 when the bin may be created (and counts it).
RESERVE = """
local most = tonumber(ARGV[1])
if most > 0 and redis.call('ZCARD', KEYS[1]) >= most then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
return 1
"""

# A page of history read in growing chunks, so that a byte budget stops it before Redis has
# read much past it: the next chunk holds what the budget has room for at the largest size
# seen so far (at least one). Returns {cut, {id, text, id, text...}}; cut = 1 when the budget
# ended the page with more to come. A page holds at least one request, however large.
_PAGE = """
local function page(log, first, last, reverse, limit, budget)
  local out, total, count, cut, chunk, largest = {}, 0, 0, 0, 1, 0
  while count < limit do
    local want = math.min(chunk, limit - count)
    local entries
    if reverse then
      entries = redis.call('XREVRANGE', log, first, last, 'COUNT', want)
    else
      entries = redis.call('XRANGE', log, first, last, 'COUNT', want)
    end
    for _, entry in ipairs(entries) do
      local text = entry[2][2]
      if budget > 0 and count > 0 and total + #text > budget then
        cut = 1
        break
      end
      total, count = total + #text, count + 1
      largest = math.max(largest, #text)
      out[#out + 1] = entry[1]
      out[#out + 1] = text
    end
    if cut == 1 or #entries < want then break end
    first = '(' .. entries[#entries][1]
    if budget > 0 then
      chunk = math.max(1, math.min(chunk * 4, math.floor((budget - total) / math.max(largest, 1))))
    else
      chunk = limit
    end
  end
  return {cut, out}
end
"""

# KEYS: meta, log. ARGV: start ('-' or '(<id>'), limit, byte budget (0: none).
READ = (
    _PAGE
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return page(KEYS[2], ARGV[1], '+', false, tonumber(ARGV[2]), tonumber(ARGV[3]))
"""
)

# KEYS: meta, log. ARGV: count, byte budget (0: none). The newest first (the caller reverses).
TAIL = (
    _PAGE
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return page(KEYS[2], '+', '-', true, tonumber(ARGV[1]), tonumber(ARGV[2]))
"""
)

# ARGV: n, then n strings: field, value, field, value... to set; then the fields to delete.
# Returns false or HGETALL.
UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local n = tonumber(ARGV[1])
if n > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, 2, n + 1)) end
if #ARGV > n + 1 then redis.call('HDEL', KEYS[1], unpack(ARGV, n + 2)) end
local ttl = redis.call('HGET', KEYS[1], 'ttl_s')
local ttl_ms = string.format('%d', math.floor(tonumber(ttl) * 1000))
redis.call('PEXPIRE', KEYS[1], ttl_ms)
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ttl_ms) end
return redis.call('HGETALL', KEYS[1])
"""

# ARGV: the control message. Tells every server process, so that streams close.
DELETE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SPUBLISH', KEYS[3], ARGV[1])
return 1
"""

# ARGV: field, request id, most names. Saves a named cursor in the bin's hash, if the bin exists.
# A new name counts in the bin's "cursors" field, up to ARGV[3] (-1 beyond: nothing written);
# "" (taking a name) never overwrites a position.
CURSOR = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  if ARGV[2] == '' then return 1 end
else
  if tonumber(redis.call('HGET', KEYS[1], 'cursors') or '0') >= tonumber(ARGV[3]) then
    return -1
  end
  redis.call('HINCRBY', KEYS[1], 'cursors', 1)
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

# Empties the stream but keeps it (and its last id), so that ids keep increasing after a clear.
CLEAR = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('XTRIM', KEYS[2], 'MAXLEN', 0) end
return 1
"""
