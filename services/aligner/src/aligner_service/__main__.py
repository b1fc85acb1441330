from aligner_service.main import main

if __name__ == "__main__":  # a spawned engine process imports this module too
    main()
