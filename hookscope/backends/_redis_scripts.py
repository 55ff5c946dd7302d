"""Lua scripts of the redis backend: each runs atomically inside Redis.

Every script's KEYS are a bin's ``[meta, log, channel]`` (``RedisKeys.of``), one hash slot,
so they run on Redis Cluster too. Publishing is ``SPUBLISH`` (sharded pub/sub, Redis 7).
"""

from __future__ import annotations

__all__ = ["CAPTURE", "CLEAR", "CREATE", "CURSOR", "DELETE", "UPDATE"]

# ARGV: ttl in ms, then field, value, field, value... (A script rather than MULTI/EXEC: on a
# cluster, a MOVED reply to one command is followed, to a transaction it is not.)
CREATE = """
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""

# ARGV: payload (wire JSON without id, starts with '{'). Returns false for an unknown bin,
# else {id, response json}.
CAPTURE = """
local meta = redis.call('HMGET', KEYS[1], 'response', 'max_requests', 'ttl_s')
if not meta[2] then return false end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '=', meta[2], '*', 'r', ARGV[1])
redis.call('SPUBLISH', KEYS[3], '{"id":"' .. id .. '",' .. string.sub(ARGV[1], 2))
local ttl_ms = string.format('%d', math.floor(tonumber(meta[3]) * 1000))
redis.call('PEXPIRE', KEYS[1], ttl_ms)
redis.call('PEXPIRE', KEYS[2], ttl_ms)
return {id, meta[1]}
"""

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

# ARGV: field, request id. Saves a named cursor in the bin's hash, if the bin exists.
CURSOR = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

# Empties the stream but keeps it (and its last id), so that ids keep increasing after a clear.
CLEAR = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('XTRIM', KEYS[2], 'MAXLEN', 0) end
return 1
"""
