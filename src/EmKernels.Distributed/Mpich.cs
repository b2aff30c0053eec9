using System.Runtime.InteropServices;

namespace EmKernels.Distributed;

/// <summary>The MPICH ABI: integer handles (mpi.h of MPICH 3/4), the status as five ints.</summary>
internal static unsafe partial class Mpich
{
    public const int CommWorld = 0x44000000;
    public const int Double = 0x4c00080b;
    public const int ThreadFunneled = 1;
    private const string Library = "libmpich.so.12";

    [StructLayout(LayoutKind.Sequential)]
    public struct Status
    {
        public int CountLow;
        public int CountHighAndCancelled;
        public int Source;
        public int Tag;
        public int Error;
    }

    [LibraryImport(Library)]
    public static partial int MPI_Initialized(out int flag);

    [LibraryImport(Library)]
    public static partial int MPI_Init_thread(nint argc, nint argv, int required, out int provided);

    [LibraryImport(Library)]
    public static partial int MPI_Comm_rank(int communicator, out int rank);

    [LibraryImport(Library)]
    public static partial int MPI_Comm_size(int communicator, out int size);

    [LibraryImport(Library)]
    public static partial int MPI_Send(double* buffer, int count, int datatype, int destination, int tag, int communicator);

    [LibraryImport(Library)]
    public static partial int MPI_Recv(double* buffer, int count, int datatype, int source, int tag, int communicator, Status* status);

    [LibraryImport(Library)]
    public static partial int MPI_Get_count(Status* status, int datatype, out int count);

    [LibraryImport(Library)]
    public static partial int MPI_Bcast(double* buffer, int count, int datatype, int root, int communicator);

    [LibraryImport(Library)]
    public static partial int MPI_Allgather(double* send, int sendCount, int sendType, double* receive, int receiveCount, int receiveType, int communicator);

    [LibraryImport(Library)]
    public static partial int MPI_Abort(int communicator, int errorCode);

    [LibraryImport(Library)]
    public static partial int MPI_Finalize();
}
