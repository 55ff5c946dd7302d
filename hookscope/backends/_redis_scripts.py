"""Lua scripts of the redis backend: each runs atomically inside Redis.

Keys: ``<prefix>bin:<id>`` (hash: token, limits, response), ``<prefix>req:<id>`` (stream of
captures, field ``r`` = wire JSON without the id). Channel: ``<prefix>ch:<id>``; it carries
each request's full wire JSON, or ``!deleted``.
"""

from __future__ import annotations

__all__ = ["CAPTURE", "CLEAR", "DELETE", "UPDATE"]

# KEYS: bin hash, stream. ARGV: payload (wire JSON without id, starts with '{'), channel.
# Returns false for an unknown bin, else {id, response json}.
CAPTURE = """
local meta = redis.call('HMGET', KEYS[1], 'response', 'max_requests', 'ttl_s')
if not meta[2] then return false end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '=', meta[2], '*', 'r', ARGV[1])
redis.call('PUBLISH', ARGV[2], '{"id":"' .. id .. '",' .. string.sub(ARGV[1], 2))
local ttl_ms = string.format('%d', math.floor(tonumber(meta[3]) * 1000))
redis.call('PEXPIRE', KEYS[1], ttl_ms)
redis.call('PEXPIRE', KEYS[2], ttl_ms)
return {id, meta[1]}
"""

# KEYS: bin hash, stream. ARGV: field, value, field, value... Returns false or HGETALL.
UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if #ARGV > 0 then redis.call('HSET', KEYS[1], unpack(ARGV)) end
local ttl = redis.call('HGET', KEYS[1], 'ttl_s')
local ttl_ms = string.format('%d', math.floor(tonumber(ttl) * 1000))
redis.call('PEXPIRE', KEYS[1], ttl_ms)
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ttl_ms) end
return redis.call('HGETALL', KEYS[1])
"""

# KEYS: bin hash, stream. ARGV: channel. Tells every server process, so streams close.
DELETE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('PUBLISH', ARGV[1], '!deleted')
return 1
"""

# KEYS: bin hash, stream. Empties the stream but keeps it (and its last id), so that ids
# keep increasing after a clear.
CLEAR = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('XTRIM', KEYS[2], 'MAXLEN', 0) end
return 1
"""
