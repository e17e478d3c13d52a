// PgConnection's execute_batch: statements sent in libpq pipeline mode, one Sync each, results collected in order.
#include "drivers/postgresql/pg_connection.hpp"

#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "drivers/postgresql/pg_copy.hpp"
#include "drivers/postgresql/pg_error.hpp"
#include "drivers/postgresql/pg_params.hpp"
#include "drivers/postgresql/pg_reader.hpp"
#include "drivers/postgresql/pg_results.hpp"

namespace dbpool::pg {

asio::awaitable<PgConnection::PipelineRun> PgConnection::RunPipeline(int sent, int syncs,
                                                                     CancelToken* cancel) {
  if (!sent) {
    // Part of the pipeline may be queued already: the session state is unknown.
    throw Broken(ConnError(conn_, "could not send the statement to " + endpoint_));
  }
  CancelGuard guard;
  ArmCancel(cancel, &guard);
  PipelineRun run;
  std::exception_ptr error;
  try {
    co_await Flush();
    run = co_await CollectPipeline(syncs);
  } catch (...) {
    error = std::current_exception();
  }
  run.cancel_sent = DisarmCancel(&guard);
  if (run.cancel_sent) co_await AwaitCancelSent(guard.request);
  if (error) {
    broken_ = true;  // results are left unread
    std::rethrow_exception(error);
  }
  if (PQexitPipelineMode(conn_) != 1) {
    throw Broken(DbError(ErrorKind::kConnection,
                         "could not leave pipeline mode on the connection to " + endpoint_));
  }
  co_return run;
}

asio::awaitable<PgConnection::PipelineRun> PgConnection::RunWithDeallocates(int sent, int syncs,
                                                                            CancelToken* cancel) {
  std::vector<std::string> deallocate = std::move(pending_deallocate_);
  pending_deallocate_.clear();
  const size_t first = static_cast<size_t>(syncs);  // the segment of the first DEALLOCATE
  for (const std::string& old : deallocate) {
    std::string command = "DEALLOCATE " + old;
    if (sent) sent = PQsendQueryParams(conn_, command.c_str(), 0, nullptr, nullptr, nullptr,
                                       nullptr, kTextResults);
    if (sent) sent = PQpipelineSync(conn_);
    ++syncs;
  }
  PipelineRun pipeline = co_await RunPipeline(sent, syncs, cancel);
  for (size_t k = 0; k < deallocate.size() && first + k < pipeline.segments.size(); ++k) {
    // A failed transaction refuses DEALLOCATE too: try again with the next statement.
    for (const auto& query : pipeline.segments[first + k]) {
      const PGresult* failed = FirstError(query);
      if (failed != nullptr && ErrorField(failed, PG_DIAG_SQLSTATE) == "25P02") {
        pending_deallocate_.push_back(deallocate[k]);
      }
    }
  }
  co_return pipeline;
}

asio::awaitable<PgConnection::PipelineRun> PgConnection::CollectPipeline(int syncs) {
  PipelineRun run;
  run.segments.emplace_back();
  std::vector<PgResult> query;
  int seen = 0;
  int empty = 0;
  while (seen < syncs) {
    while (PQisBusy(conn_)) {
      co_await WaitReadable();
      if (!PQconsumeInput(conn_)) {
        throw LostInPipeline(run, query);
      }
    }
    PgResult result(PQgetResult(conn_));
    if (!result) {
      // The end of one query's results.
      if (PQstatus(conn_) == CONNECTION_BAD) throw LostInPipeline(run, query);
      if (!query.empty()) {
        run.segments.back().push_back(std::move(query));
        query.clear();
        empty = 0;
      } else if (++empty > 2) {
        throw Broken(DbError(ErrorKind::kInternal,
                             "a pipeline to " + endpoint_ + " ended before its last Sync"));
      }
      continue;
    }
    empty = 0;
    ExecStatusType status = PQresultStatus(result.get());
    if (status == PGRES_PIPELINE_SYNC) {
      if (!query.empty()) {
        run.segments.back().push_back(std::move(query));
        query.clear();
      }
      if (++seen < syncs) run.segments.emplace_back();
      continue;
    }
    if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH) {
      throw Broken(DbError(ErrorKind::kQuery, "COPY cannot run inside a pipelined batch"));
    }
    query.push_back(std::move(result));
  }
  co_return run;
}

DbError PgConnection::LostInPipeline(const PipelineRun& run, const std::vector<PgResult>& query) {
  // The server's last words (FATAL 57P01 after pg_terminate_backend) come as the result of
  // the first query of the pipeline, before libpq notices the closed socket.
  auto last_words = [](const std::vector<PgResult>& results) -> const PGresult* {
    for (const PgResult& r : results) {
      if (IsErrorStatus(PQresultStatus(r.get())) &&
          IsConnectionSqlState(ErrorField(r.get(), PG_DIAG_SQLSTATE))) {
        return r.get();
      }
    }
    return nullptr;
  };
  for (const auto& segment : run.segments) {
    for (const auto& results : segment) {
      if (const PGresult* r = last_words(results)) return Broken(ResultError(r, conn_, false));
    }
  }
  if (const PGresult* r = last_words(query)) return Broken(ResultError(r, conn_, false));
  return LostConnection();
}

asio::awaitable<std::vector<QueryResult>> PgConnection::QueryBatch(
    std::vector<Statement> statements, CancelTokenPtr cancel) {
  FollowPoolerDetection();
  bool pipelined = statements.size() > 1;
  for (const Statement& statement : statements) {
    // libpq cannot pipeline COPY; such a batch runs one statement at a time.
    if (LeadingKeyword(statement.sql) == "COPY") pipelined = false;
  }
  std::vector<QueryResult> results;
  results.reserve(statements.size());
  if (!pipelined) {
    for (auto& statement : statements) {
      results.push_back(
          co_await Query(std::move(statement.sql), std::move(statement.params), cancel));
    }
    co_return results;
  }
  const size_t n = statements.size();
  std::vector<std::unique_ptr<PgParams>> bound;  // invalid parameters fail before sending
  bound.reserve(n);
  for (const Statement& statement : statements) {
    bound.push_back(std::make_unique<PgParams>(statement.params));
  }
  BeforeSend(cancel.get());
  std::vector<std::string> keys(n);
  std::vector<char> prepared(n, 0);
  int sent = PQenterPipelineMode(conn_);
  int syncs = 0;
  for (size_t i = 0; i < n; ++i) {
    const PgParams& p = *bound[i];
    const char* sql = statements[i].sql.c_str();
    if (statements_.enabled()) {
      keys[i] = StatementCache::Key(statements[i].sql, p.types(), p.count());
      StatementCache::Entry* entry = statements_.Find(keys[i]);
      if (entry == nullptr) {
        entry = &statements_.Add(keys[i], &pending_deallocate_);
        prepared[i] = 1;
        if (sent) sent = PQsendPrepare(conn_, entry->name.c_str(), sql, p.count(), p.types());
      }
      if (sent) {
        sent = PQsendQueryPrepared(conn_, entry->name.c_str(), p.count(), p.values(),
                                   p.lengths(), p.formats(), kBinaryResults);
      }
    } else if (sent) {
      sent = PQsendQueryParams(conn_, sql, p.count(), p.types(), p.values(), p.lengths(),
                               p.formats(), kBinaryResults);
    }
    if (sent) sent = PQpipelineSync(conn_);
    ++syncs;
  }
  PipelineRun pipeline = co_await RunWithDeallocates(sent, syncs, cancel.get());
  std::exception_ptr first_error;
  for (size_t i = 0; i < n; ++i) {
    auto& queries = pipeline.segments.at(i);
    size_t q = 0;
    if (prepared[i]) {
      const PGresult* failed = queries.empty() ? nullptr : FirstError(queries[0]);
      if (failed != nullptr) {
        statements_.Erase(keys[i], nullptr);
        if (!first_error) first_error = std::make_exception_ptr(StatementError(failed, pipeline.cancel_sent));
        continue;
      }
      ++q;
    }
    if (q >= queries.size()) {
      throw Broken(DbError(ErrorKind::kInternal, "unexpected pipeline results from " + endpoint_));
    }
    if (const PGresult* failed = FirstError(queries[q])) {
      bool pooler = false;
      if (IsStaleStatement(failed)) {
        bool exists = ErrorField(failed, PG_DIAG_SQLSTATE) == "0A000";
        statements_.Erase(keys[i], exists ? &pending_deallocate_ : nullptr);
        pooler = DetectPooler(failed);
      }
      // Not retried: the batch's other statements have run (each after its own Sync).
      if (!first_error) {
        first_error = std::make_exception_ptr(pooler ? PoolerError(failed, pipeline.cancel_sent)
                                                     : StatementError(failed, pipeline.cancel_sent));
      }
      continue;
    }
    if (first_error) continue;  // the batch fails: no need to convert the rest
    StatementCache::Entry* entry = statements_.enabled() ? statements_.Find(keys[i]) : nullptr;
    results.push_back(co_await ToResult(ChooseResult(queries[q]), entry, kBatchRows));
  }
  if (first_error) std::rethrow_exception(first_error);
  co_return results;
}

}  // namespace dbpool::pg
