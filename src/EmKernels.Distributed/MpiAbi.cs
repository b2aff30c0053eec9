using System.Runtime.InteropServices;

namespace EmKernels.Distributed;

/// <summary>
/// The eleven MPI calls distributed EM needs, bound to one of the two MPI ABIs in use: MPICH's (<c>libmpich.so.12</c>:
/// MPICH, Intel MPI, Cray MPICH, MVAPICH; integer handles, a five-int status) or Open MPI's (<c>libmpi.so.40</c>: handles
/// are the addresses of exported objects, the status is four ints and a size_t). Which one is the launcher's:
/// Open MPI's <c>mpirun</c> sets <c>OMPI_COMM_WORLD_SIZE</c>, MPICH's <c>mpiexec</c> does not. Calls go through function
/// pointers looked up once.
/// </summary>
internal abstract unsafe class MpiAbi
{
    public const int ThreadFunneled = 1; // MPI_THREAD_FUNNELED in both ABIs

    /// <summary>The implementation's name and library, for messages.</summary>
    public abstract string Name { get; }

    public abstract int Initialized(out int flag);

    public abstract int InitThread(int required, out int provided);

    public abstract int CommRank(out int rank);

    public abstract int CommSize(out int size);

    public abstract int Send(double* buffer, int count, int destination);

    /// <summary>MPI_Recv of doubles with tag 0 on MPI_COMM_WORLD; <paramref name="received"/> from MPI_Get_count.</summary>
    public abstract int Receive(double* buffer, int count, int source, out int received);

    public abstract int Broadcast(double* buffer, int count, int root);

    public abstract int AllGather(double* send, int count, double* receive);

    public abstract int Abort(int code);

    public abstract int Finalize();

    /// <summary>The ABI of the launcher that started this process.</summary>
    /// <exception cref="DllNotFoundException">Its library is not installed.</exception>
    public static MpiAbi Load() =>
        Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is not null ? new OpenMpi() : new Mpich();

    /// <summary>dlopen with RTLD_NOW | RTLD_GLOBAL: Open MPI's components, loaded later, resolve symbols of libmpi.</summary>
    private static nint Open(string library)
    {
        nint handle = DlOpen(library, 0x102);
        return handle != 0 ? handle : throw new DllNotFoundException($"{library} could not be loaded.");
    }

    private static nint Export(nint library, string name) => NativeLibrary.GetExport(library, name);

    [DllImport("libc.so.6", EntryPoint = "dlopen")]
#pragma warning disable SYSLIB1054 // a string marshalled by the source generator would need more code than this one call is worth
    private static extern nint DlOpen([MarshalAs(UnmanagedType.LPUTF8Str)] string file, int mode);
#pragma warning restore SYSLIB1054

    /// <summary>MPICH's ABI (mpi.h of MPICH 3 and 4).</summary>
    private sealed class Mpich : MpiAbi
    {
        private const int CommWorld = 0x44000000;
        private const int Double = 0x4c00080b;
        private readonly delegate* unmanaged<int*, int> _initialized;
        private readonly delegate* unmanaged<int*, nint, int, int*, int> _initThread;
        private readonly delegate* unmanaged<int, int*, int> _commRank;
        private readonly delegate* unmanaged<int, int*, int> _commSize;
        private readonly delegate* unmanaged<double*, int, int, int, int, int, int> _send;
        private readonly delegate* unmanaged<double*, int, int, int, int, int, Status*, int> _receive;
        private readonly delegate* unmanaged<Status*, int, int*, int> _getCount;
        private readonly delegate* unmanaged<double*, int, int, int, int, int> _broadcast;
        private readonly delegate* unmanaged<double*, int, int, double*, int, int, int, int> _allGather;
        private readonly delegate* unmanaged<int, int, int> _abort;
        private readonly delegate* unmanaged<int> _finalize;

        public Mpich()
        {
            nint library = Open("libmpich.so.12");
            _initialized = (delegate* unmanaged<int*, int>)Export(library, "MPI_Initialized");
            _initThread = (delegate* unmanaged<int*, nint, int, int*, int>)Export(library, "MPI_Init_thread");
            _commRank = (delegate* unmanaged<int, int*, int>)Export(library, "MPI_Comm_rank");
            _commSize = (delegate* unmanaged<int, int*, int>)Export(library, "MPI_Comm_size");
            _send = (delegate* unmanaged<double*, int, int, int, int, int, int>)Export(library, "MPI_Send");
            _receive = (delegate* unmanaged<double*, int, int, int, int, int, Status*, int>)Export(library, "MPI_Recv");
            _getCount = (delegate* unmanaged<Status*, int, int*, int>)Export(library, "MPI_Get_count");
            _broadcast = (delegate* unmanaged<double*, int, int, int, int, int>)Export(library, "MPI_Bcast");
            _allGather = (delegate* unmanaged<double*, int, int, double*, int, int, int, int>)Export(library, "MPI_Allgather");
            _abort = (delegate* unmanaged<int, int, int>)Export(library, "MPI_Abort");
            _finalize = (delegate* unmanaged<int>)Export(library, "MPI_Finalize");
        }

        public override string Name => "MPICH (libmpich.so.12)";

        public override int Initialized(out int flag)
        {
            fixed (int* p = &flag)
            {
                return _initialized(p);
            }
        }

        public override int InitThread(int required, out int provided)
        {
            fixed (int* p = &provided)
            {
                return _initThread(null, 0, required, p);
            }
        }

        public override int CommRank(out int rank)
        {
            fixed (int* p = &rank)
            {
                return _commRank(CommWorld, p);
            }
        }

        public override int CommSize(out int size)
        {
            fixed (int* p = &size)
            {
                return _commSize(CommWorld, p);
            }
        }

        public override int Send(double* buffer, int count, int destination) => _send(buffer, count, Double, destination, 0, CommWorld);

        public override int Receive(double* buffer, int count, int source, out int received)
        {
            Status status;
            int code = _receive(buffer, count, Double, source, 0, CommWorld, &status);
            int got = 0;
            if (code == 0)
            {
                code = _getCount(&status, Double, &got);
            }

            received = got;
            return code;
        }

        public override int Broadcast(double* buffer, int count, int root) => _broadcast(buffer, count, Double, root, CommWorld);

        public override int AllGather(double* send, int count, double* receive) => _allGather(send, count, Double, receive, count, Double, CommWorld);

        public override int Abort(int code) => _abort(CommWorld, code);

        public override int Finalize() => _finalize();

        [StructLayout(LayoutKind.Sequential)]
        private struct Status
        {
            public int CountLow;
            public int CountHighAndCancelled;
            public int Source;
            public int Tag;
            public int Error;
        }
    }

    /// <summary>Open MPI's ABI (mpi.h of Open MPI 4): handles are addresses of exported objects.</summary>
    private sealed class OpenMpi : MpiAbi
    {
        private readonly nint _commWorld;
        private readonly nint _double;
        private readonly delegate* unmanaged<int*, int> _initialized;
        private readonly delegate* unmanaged<int*, nint, int, int*, int> _initThread;
        private readonly delegate* unmanaged<nint, int*, int> _commRank;
        private readonly delegate* unmanaged<nint, int*, int> _commSize;
        private readonly delegate* unmanaged<double*, int, nint, int, int, nint, int> _send;
        private readonly delegate* unmanaged<double*, int, nint, int, int, nint, Status*, int> _receive;
        private readonly delegate* unmanaged<Status*, nint, int*, int> _getCount;
        private readonly delegate* unmanaged<double*, int, nint, int, nint, int> _broadcast;
        private readonly delegate* unmanaged<double*, int, nint, double*, int, nint, nint, int> _allGather;
        private readonly delegate* unmanaged<nint, int, int> _abort;
        private readonly delegate* unmanaged<int> _finalize;

        public OpenMpi()
        {
            nint library = Open("libmpi.so.40");
            _commWorld = Export(library, "ompi_mpi_comm_world");
            _double = Export(library, "ompi_mpi_double");
            _initialized = (delegate* unmanaged<int*, int>)Export(library, "MPI_Initialized");
            _initThread = (delegate* unmanaged<int*, nint, int, int*, int>)Export(library, "MPI_Init_thread");
            _commRank = (delegate* unmanaged<nint, int*, int>)Export(library, "MPI_Comm_rank");
            _commSize = (delegate* unmanaged<nint, int*, int>)Export(library, "MPI_Comm_size");
            _send = (delegate* unmanaged<double*, int, nint, int, int, nint, int>)Export(library, "MPI_Send");
            _receive = (delegate* unmanaged<double*, int, nint, int, int, nint, Status*, int>)Export(library, "MPI_Recv");
            _getCount = (delegate* unmanaged<Status*, nint, int*, int>)Export(library, "MPI_Get_count");
            _broadcast = (delegate* unmanaged<double*, int, nint, int, nint, int>)Export(library, "MPI_Bcast");
            _allGather = (delegate* unmanaged<double*, int, nint, double*, int, nint, nint, int>)Export(library, "MPI_Allgather");
            _abort = (delegate* unmanaged<nint, int, int>)Export(library, "MPI_Abort");
            _finalize = (delegate* unmanaged<int>)Export(library, "MPI_Finalize");
        }

        public override string Name => "Open MPI (libmpi.so.40)";

        public override int Initialized(out int flag)
        {
            fixed (int* p = &flag)
            {
                return _initialized(p);
            }
        }

        public override int InitThread(int required, out int provided)
        {
            fixed (int* p = &provided)
            {
                return _initThread(null, 0, required, p);
            }
        }

        public override int CommRank(out int rank)
        {
            fixed (int* p = &rank)
            {
                return _commRank(_commWorld, p);
            }
        }

        public override int CommSize(out int size)
        {
            fixed (int* p = &size)
            {
                return _commSize(_commWorld, p);
            }
        }

        public override int Send(double* buffer, int count, int destination) => _send(buffer, count, _double, destination, 0, _commWorld);

        public override int Receive(double* buffer, int count, int source, out int received)
        {
            Status status;
            int code = _receive(buffer, count, _double, source, 0, _commWorld, &status);
            int got = 0;
            if (code == 0)
            {
                code = _getCount(&status, _double, &got);
            }

            received = got;
            return code;
        }

        public override int Broadcast(double* buffer, int count, int root) => _broadcast(buffer, count, _double, root, _commWorld);

        public override int AllGather(double* send, int count, double* receive) => _allGather(send, count, _double, receive, count, _double, _commWorld);

        public override int Abort(int code) => _abort(_commWorld, code);

        public override int Finalize() => _finalize();

        [StructLayout(LayoutKind.Sequential)]
        private struct Status
        {
            public int Source;
            public int Tag;
            public int Error;
            public int Cancelled;
            public nuint Count;
        }
    }
}
