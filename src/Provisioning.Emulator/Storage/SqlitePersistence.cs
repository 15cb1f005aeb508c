using System.Threading.Channels;

using Microsoft.Data.Sqlite;

namespace Provisioning.Emulator.Storage;

/// <summary>One row written or deleted: <paramref name="Json"/> null deletes.</summary>
internal readonly record struct StoredRow(string Kind, string Id, byte[]? Json);

/// <summary>
/// The SQLite file behind the store: one table of JSON documents, written with group commit so that many concurrent
/// registrations share one transaction, and each caller is answered only once its rows are durable.
/// </summary>
internal sealed class SqlitePersistence : IAsyncDisposable
{
    private const int MaxBatch = 512;

    private readonly SqliteConnection _connection;
    private readonly Channel<PendingWrite> _queue = Channel.CreateUnbounded<PendingWrite>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writer;

    private SqlitePersistence(SqliteConnection connection)
    {
        _connection = connection;
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>Opens (or creates) the database file.</summary>
    /// <exception cref="IOException">The file is not an SQLite database (corrupt, or another program's), or is locked; the
    /// connection is closed again, so the file is not left open.</exception>
    public static async Task<(SqlitePersistence Persistence, List<StoredRow> Rows)> OpenAsync(string path, CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        var opened = false;
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            using (var setup = connection.CreateCommand())
            {
                // WAL + NORMAL survives a killed process (the acknowledged transactions are in the WAL file).
                setup.CommandText = """
                    PRAGMA journal_mode=WAL;
                    PRAGMA synchronous=NORMAL;
                    CREATE TABLE IF NOT EXISTS items (kind TEXT NOT NULL, id TEXT NOT NULL, json BLOB NOT NULL, PRIMARY KEY (kind, id)) WITHOUT ROWID;
                    """;
                await setup.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            var rows = new List<StoredRow>();
            using (var select = connection.CreateCommand())
            {
                select.CommandText = "SELECT kind, id, json FROM items";
                using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    rows.Add(new StoredRow(reader.GetString(0), reader.GetString(1), reader.GetFieldValue<byte[]>(2)));
                }
            }

            var persistence = new SqlitePersistence(connection);
            opened = true;
            return (persistence, rows);
        }
        catch (SqliteException ex)
        {
            throw new IOException($"The emulator database '{path}' cannot be opened (corrupt, locked, or not an SQLite file): {ex.Message}", ex);
        }
        finally
        {
            if (!opened)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Writes the rows in one transaction; completes when they are committed.</summary>
    public Task WriteAsync(IReadOnlyList<StoredRow> rows, CancellationToken cancellationToken)
    {
        var pending = new PendingWrite(rows);
        ObjectDisposedException.ThrowIf(!_queue.Writer.TryWrite(pending), this);

        return pending.Completion.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Finishes queued writes and closes the file.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
    }

    private async Task WriteLoopAsync()
    {
        using var upsert = _connection.CreateCommand();
        upsert.CommandText = "INSERT INTO items (kind, id, json) VALUES ($k, $i, $j) ON CONFLICT (kind, id) DO UPDATE SET json = excluded.json";
        var uk = upsert.Parameters.Add("$k", SqliteType.Text);
        var ui = upsert.Parameters.Add("$i", SqliteType.Text);
        var uj = upsert.Parameters.Add("$j", SqliteType.Blob);
        using var delete = _connection.CreateCommand();
        delete.CommandText = "DELETE FROM items WHERE kind = $k AND id = $i";
        var dk = delete.Parameters.Add("$k", SqliteType.Text);
        var di = delete.Parameters.Add("$i", SqliteType.Text);

        var group = new List<PendingWrite>(MaxBatch);
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            group.Clear();
            while (group.Count < MaxBatch && _queue.Reader.TryRead(out var next))
            {
                group.Add(next);
            }

            try
            {
                using var transaction = _connection.BeginTransaction();
                upsert.Transaction = transaction;
                delete.Transaction = transaction;
                foreach (var pending in group)
                {
                    foreach (var row in pending.Rows)
                    {
                        if (row.Json is { } json)
                        {
                            uk.Value = row.Kind;
                            ui.Value = row.Id;
                            uj.Value = json;
                            upsert.ExecuteNonQuery();
                        }
                        else
                        {
                            dk.Value = row.Kind;
                            di.Value = row.Id;
                            delete.ExecuteNonQuery();
                        }
                    }
                }

                transaction.Commit();
                foreach (var pending in group)
                {
                    pending.Completion.TrySetResult();
                }
            }
            catch (Exception ex) when (ex is SqliteException or InvalidOperationException or IOException)
            {
                foreach (var pending in group)
                {
                    pending.Completion.TrySetException(ex);
                }
            }
        }
    }

    private sealed class PendingWrite(IReadOnlyList<StoredRow> rows)
    {
        public IReadOnlyList<StoredRow> Rows { get; } = rows;

        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
